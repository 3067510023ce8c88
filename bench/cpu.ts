/**
 * The CPU benchmark of the multi-process issue, after Oban Pro's own: 100 jobs
 * of 100,000 SHA-256 iterations each, timed from insert to all completed, with
 * processes 0 (in the main process), 1, 2 and 4. In the same run, the floor:
 * the same jobs spread over N plain forked processes, no queue, no Nest. Also
 * the dispatch overhead (no-op cpu jobs through the pool vs in the main
 * process) and each worker process's resident memory.
 *
 *   npm run bench:cpu            (JOBS, ROUNDS, PROCESSES=0,1,2,4, REPEATS=3 to change)
 *
 * It runs compiled (bench/build.sh), as production does: under ts-node every
 * worker process would also load the TypeScript compiler.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { Oban, type InsertAllEntry, type ObanModuleOptions } from '../lib';
import { bootBenchApp, NoopCpuWorker, ShaChainWorker } from './cpu/app';
import { shaChain } from './cpu/sha-chain';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface CpuBenchOptions {
  jobs?: number;
  rounds?: number;
  processes?: number[];
  /** Times each configuration is run; the table shows medians. Runs of one repeat follow each other, so drift in the machine's speed hits all alike. */
  repeats?: number;
  noopJobs?: number;
  onProgress?: (label: string, done: number, total: number) => void;
}

type Progress = (label: string, done: number, total: number) => void;

/** Worker-process flags of the tuned rows: a young generation that stays small (see README, Memory), GC on one thread. */
export const TUNED_EXEC_ARGV = ['--max-semi-space-size=1', '--single-threaded-gc'];

export interface CpuBenchRow {
  label: string;
  processes: number;
  /** Median over the repeats. */
  seconds: number;
  speedup: number;
  /** For nest-oban rows: the plain-fork floor's speedup at the same N, and nest-oban's share of it. */
  floorSpeedup?: number;
  ofFloor?: number;
  runs: number[];
}

export interface CpuBenchResult {
  jobs: number;
  rounds: number;
  repeats: number;
  rows: CpuBenchRow[];
  dispatchOverheadMs: { inProcess: number; pool: number; perJob: number };
  workerRssMb: number[];
}

export async function runCpuBenchmark(options: CpuBenchOptions = {}): Promise<CpuBenchResult> {
  const jobs = options.jobs ?? 100;
  const rounds = options.rounds ?? 100_000;
  const counts = options.processes ?? [0, 1, 2, 4];
  const forked = counts.filter((n) => n > 0);
  const repeats = options.repeats ?? 3;
  const progress = options.onProgress ?? (() => undefined);
  const chains = Array.from({ length: jobs }, (_, i) => ({
    worker: ShaChainWorker,
    args: { rounds, seed: `job-${i}` },
  }));

  const runs = new Map<string, number[]>();
  const record = (key: string, seconds: number) => runs.set(key, [...(runs.get(key) ?? []), seconds]);
  let workerRssMb: number[] = [];
  for (let r = 1; r <= repeats; r++) {
    const round = repeats > 1 ? ` (round ${r}/${repeats})` : '';
    const plainStart = performance.now();
    for (let i = 0; i < jobs; i++) {
      shaChain(rounds, `job-${i}`);
      progress(`plain loop${round}`, i + 1, jobs);
    }
    record('plain', (performance.now() - plainStart) / 1000);
    for (const n of forked) record(`floor ${n}`, await forkedFloor(n, jobs, rounds, progress, round));
    for (const n of forked) {
      record(`floor tuned ${n}`, await forkedFloor(n, jobs, rounds, progress, `, same flags${round}`, TUNED_EXEC_ARGV));
    }
    for (const n of counts) {
      const { seconds, rss } = await timeRun({ processes: n }, chains, `nest-oban, processes: ${n}${round}`, progress);
      record(`oban ${n}`, seconds);
      if (rss.length) workerRssMb = rss;
    }
    for (const n of forked) {
      const label = `nest-oban, processes: ${n}, tuned${round}`;
      record(
        `tuned ${n}`,
        (await timeRun({ processes: n, processExecArgv: TUNED_EXEC_ARGV }, chains, label, progress)).seconds,
      );
    }
  }

  const median = (key: string) => {
    const sorted = [...runs.get(key)!].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  };
  const plain = median('plain');
  const floorSpeedup = (n: number) => plain / median(`floor ${n}`);
  const row = (key: string, label: string, processes: number, base: number, floor?: number): CpuBenchRow => {
    const seconds = median(key);
    const speedup = base / seconds;
    return {
      label,
      processes,
      seconds,
      speedup,
      floorSpeedup: floor,
      ofFloor: floor ? speedup / floor : undefined,
      runs: runs.get(key)!,
    };
  };
  const inProcess = counts.includes(0) ? median('oban 0') : plain;
  const rows: CpuBenchRow[] = [
    row('plain', 'plain loop, main process', 0, plain),
    ...forked.map((n) => row(`floor ${n}`, `plain fork x${n} (floor)`, n, plain)),
    ...forked.map((n) => row(`floor tuned ${n}`, `plain fork x${n}, ${TUNED_EXEC_ARGV.join(' ')}`, n, plain)),
    ...counts.map((n) => row(`oban ${n}`, `nest-oban, processes: ${n}`, n, inProcess, n ? floorSpeedup(n) : undefined)),
    // Tuned rows are held against the floor run with the same flags.
    ...forked.map((n) =>
      row(
        `tuned ${n}`,
        `nest-oban, processes: ${n}, ${TUNED_EXEC_ARGV.join(' ')}`,
        n,
        inProcess,
        plain / median(`floor tuned ${n}`),
      ),
    ),
  ];

  const noopJobs = options.noopJobs ?? 2_000;
  const noops = Array.from({ length: noopJobs }, () => ({ worker: NoopCpuWorker, args: {} }));
  const poolSize = Math.max(...counts, 1);
  const noopIn = (await timeRun({ processes: 0 }, noops, 'no-op cpu jobs, processes: 0', progress)).seconds;
  const noopPool = (await timeRun({ processes: poolSize }, noops, `no-op cpu jobs, processes: ${poolSize}`, progress))
    .seconds;
  return {
    jobs,
    rounds,
    repeats,
    rows,
    dispatchOverheadMs: {
      inProcess: (noopIn * 1000) / noopJobs,
      pool: (noopPool * 1000) / noopJobs,
      perJob: ((noopPool - noopIn) * 1000) / noopJobs,
    },
    workerRssMb,
  };
}

async function forkedFloor(
  n: number,
  jobs: number,
  rounds: number,
  progress: Progress,
  round = '',
  flags: string[] = [],
) {
  const children = await Promise.all(
    Array.from({ length: n }, () => {
      const child = fork(require.resolve('./cpu/floor-child'), [], { execArgv: [...process.execArgv, ...flags] });
      return new Promise<typeof child>((resolve) => child.once('message', () => resolve(child)));
    }),
  );
  const start = performance.now();
  let next = 0;
  let done = 0;
  await new Promise<void>((resolve) => {
    for (const child of children) {
      const feed = () => {
        if (next < jobs) child.send({ job: next++, rounds });
      };
      child.on('message', () => {
        progress(`plain fork x${n}${round}`, ++done, jobs);
        if (done === jobs) resolve();
        else feed();
      });
      feed();
    }
  });
  const seconds = (performance.now() - start) / 1000;
  for (const child of children) child.send('stop');
  return seconds;
}

/** Boots nest-oban with `processes`, inserts the jobs, and times insert to all completed. */
async function timeRun(
  workerProcesses: Pick<ObanModuleOptions, 'processes' | 'processExecArgv'>,
  entries: InsertAllEntry[],
  label: string,
  progress: Progress,
) {
  const prefix = `bench_cpu_${randomBytes(3).toString('hex')}`;
  const app = await bootBenchApp({
    connection: DATABASE_URL,
    prefix,
    migrate: true,
    queues: { bench_cpu: 20 },
    ...workerProcesses,
  });
  const oban = app.get(Oban);
  const pool = new Pool({ connectionString: DATABASE_URL, max: 1 });
  try {
    const start = performance.now();
    await oban.insertAll(entries);
    await waitCompleted(pool, prefix, entries.length, (done) => progress(label, done, entries.length));
    const seconds = (performance.now() - start) / 1000;
    const rss = (await oban.checkProcesses()).map((p) => Math.round((p.rss ?? 0) / 1024 / 1024));
    return { seconds, rss };
  } finally {
    await app.close();
    await pool.query(`DROP SCHEMA "${prefix}" CASCADE`);
    await pool.end();
  }
}

async function waitCompleted(pool: Pool, prefix: string, jobs: number, onCount: (done: number) => void) {
  for (;;) {
    const [{ n }] = (await pool.query(`SELECT count(*)::int AS n FROM "${prefix}".oban_jobs WHERE state = 'completed'`))
      .rows;
    onCount(n);
    if (n >= jobs) return;
    // The harness's own load: polled seldom enough not to compete with the workers it times.
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export function formatCpuResult(result: CpuBenchResult): string {
  const lines = [
    `CPU benchmark: ${result.jobs} jobs x ${result.rounds.toLocaleString('en')} SHA-256 iterations, insert to all completed` +
      (result.repeats > 1 ? `; median of ${result.repeats} interleaved rounds` : ''),
    '',
    '| run | seconds | speedup | floor speedup | share of floor |',
    '|---|---:|---:|---:|---:|',
    ...result.rows.map(
      (r) =>
        `| ${r.label} | ${r.seconds.toFixed(2)} | ${r.speedup.toFixed(2)}x | ${r.floorSpeedup ? r.floorSpeedup.toFixed(2) + 'x' : ''} | ${r.ofFloor ? r.ofFloor.toFixed(2) : ''} |`,
    ),
    '',
    'Speedups of nest-oban rows are over nest-oban with processes: 0; those of the floor over the plain loop.',
    `nest-oban rows use its defaults (worker processes get --single-threaded-gc); rows with flags are held against the floor run with the same flags.`,
    `Dispatch overhead: ${result.dispatchOverheadMs.perJob.toFixed(3)} ms per no-op cpu job ` +
      `(${result.dispatchOverheadMs.pool.toFixed(3)} ms through the pool vs ${result.dispatchOverheadMs.inProcess.toFixed(3)} ms in the main process)`,
    `Worker process resident memory: ${result.workerRssMb.map((m) => `${m} MB`).join(', ')}`,
  ];
  return lines.join('\n');
}

if (require.main === module) {
  const env = process.env;
  let last = '';
  runCpuBenchmark({
    jobs: env.JOBS ? Number(env.JOBS) : undefined,
    rounds: env.ROUNDS ? Number(env.ROUNDS) : undefined,
    processes: env.PROCESSES ? env.PROCESSES.split(',').map(Number) : undefined,
    repeats: env.REPEATS ? Number(env.REPEATS) : undefined,
    onProgress: (label, done, total) => {
      if (!process.stderr.isTTY) return;
      const line = `  ${label}: ${done}/${total}`;
      if (line !== last) process.stderr.write(`\r${line.padEnd(60)}`);
      last = line;
    },
  }).then(
    (result) => {
      if (process.stderr.isTTY) process.stderr.write('\r'.padEnd(62) + '\r');
      console.log(formatCpuResult(result));
    },
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
