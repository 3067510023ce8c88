import * as os from 'node:os';
import { BENCH_DATABASE_URL } from '../common/database';
import { Flags } from '../common/flags';

/** Worker-process flags of the tuned rows: a young generation that stays small (README, Garbage collection), GC on one thread. */
export const TUNED_EXEC_ARGV = ['--max-semi-space-size=1', '--single-threaded-gc'];

export interface CpuPlan {
  databaseUrl: string;
  /** 100 jobs of 100,000 SHA-256 hashes, as Oban Pro's benchmark. */
  jobs: number;
  hashes: number;
  /** The process counts N to time; 0: the jobs run in the process that inserts (or hands out) them. */
  processes: number[];
  /**
   * Rounds, each timing every run once in the same order: the machine's speed
   * drifts over minutes, and interleaving spreads the drift over all rows alike.
   * The table shows medians.
   */
  rounds: number;
  /** No-op jobs timed through nest-oban's pool and in its main process: what a dispatch costs. */
  noopJobs: number;
  /** Jobs each peer worker process runs at once. */
  peerConcurrency: number;
  /** nest-oban's queue limit (16, as Oban Pro's benchmark). */
  queueLimit: number;
  /** The JSON job's rounds of parse + stringify of a ~1 MB document (json-job.ts). */
  jsonRounds: number;
  /** A queue's run still going after this long is stopped; its time is extrapolated from the rate reached. */
  timeboxMs: number;
}

/** The program that times a run, in a process of its own (see driver.ts). */
export type Driver = 'floor' | 'nest-oban' | 'graphile-worker' | 'pg-boss' | 'bullmq';

/** The job a row runs: the SHA chain (sha-job.ts), or the allocation-heavy JSON job (json-job.ts). */
export type CpuJob = 'sha' | 'json';

/** A row of the table: one system in one configuration, timed at each N it can run with. */
export interface CpuRow {
  key: string;
  label: string;
  driver: Driver;
  /** Node flags of the worker processes. */
  execArgv?: string[];
  /** 1 for systems whose jobs never run in the inserting process. */
  minProcesses: number;
  job: CpuJob;
  /** The floor row this one is held against (the same job). */
  floor: string;
}

export function cpuRows(plan: CpuPlan): CpuRow[] {
  const c = plan.peerConcurrency;
  const sha = { job: 'sha', floor: 'floor' } as const;
  const json = { job: 'json', floor: 'floor-json' } as const;
  return [
    { key: 'floor', label: 'floor: plain processes, no queue', driver: 'floor', minProcesses: 0, ...sha },
    {
      key: 'floor-tuned',
      label: 'plain processes, tuned flags',
      driver: 'floor',
      execArgv: TUNED_EXEC_ARGV,
      minProcesses: 1,
      ...sha,
    },
    { key: 'nest-oban', label: 'nest-oban, processes: N', driver: 'nest-oban', minProcesses: 0, ...sha },
    {
      key: 'nest-oban-tuned',
      label: 'nest-oban, processes: N, tuned flags',
      driver: 'nest-oban',
      execArgv: TUNED_EXEC_ARGV,
      minProcesses: 1,
      ...sha,
    },
    {
      key: 'bullmq',
      label: 'BullMQ sandboxed processor, N children',
      driver: 'bullmq',
      minProcesses: 1,
      ...sha,
    },
    {
      key: 'graphile-worker',
      label: `graphile-worker, concurrency ${c} per process`,
      driver: 'graphile-worker',
      minProcesses: 1,
      ...sha,
    },
    { key: 'pg-boss', label: `pg-boss, localConcurrency ${c} per process`, driver: 'pg-boss', minProcesses: 1, ...sha },
    { key: 'floor-json', label: 'JSON job: floor, plain processes', driver: 'floor', minProcesses: 0, ...json },
    {
      key: 'floor-tuned-json',
      label: 'JSON job: plain processes, tuned flags',
      driver: 'floor',
      execArgv: TUNED_EXEC_ARGV,
      minProcesses: 1,
      ...json,
    },
    {
      key: 'nest-oban-json',
      label: 'JSON job: nest-oban, processes: N',
      driver: 'nest-oban',
      minProcesses: 0,
      ...json,
    },
  ];
}

/** One timed batch: a row at one N. */
export interface CpuRun {
  row: CpuRow;
  processes: number;
}

/**
 * Every run of a round, row by row. The JSON job's rows run only at N = the
 * machine's cores (the setting the issue measures) when that N is asked for.
 */
export function cpuRuns(plan: CpuPlan): CpuRun[] {
  const cores = os.cpus().length;
  return cpuRows(plan).flatMap((row) =>
    plan.processes
      .filter((n) => n >= row.minProcesses)
      .filter((n) => row.job !== 'json' || !plan.processes.includes(cores) || n === cores)
      .map((processes) => ({ row, processes })),
  );
}

/** The plan from the command line (flags: see the top of main.ts). */
export function parseCpuArgs(argv: string[]): CpuPlan {
  const flags = new Flags(
    argv,
    ['quick', 'jobs', 'hashes', 'json-rounds', 'processes', 'rounds', 'noop-jobs'],
    'bench/cpu/main.ts',
  );
  const quick = flags.has('quick');
  return {
    databaseUrl: BENCH_DATABASE_URL,
    jobs: flags.int('jobs', quick ? 10 : 100),
    hashes: flags.int('hashes', quick ? 20_000 : 100_000),
    processes: [...new Set(flags.ints('processes', [0, 1, 2, 4]))].sort((a, b) => a - b),
    rounds: flags.int('rounds', quick ? 1 : 3),
    noopJobs: flags.int('noop-jobs', quick ? 200 : 2_000),
    peerConcurrency: 8,
    queueLimit: 16,
    jsonRounds: flags.int('json-rounds', quick ? 2 : 4),
    timeboxMs: quick ? 20_000 : 120_000,
  };
}
