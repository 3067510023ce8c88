/**
 * The CPU benchmark of the multi-process issue, after Oban Pro's own: 100 jobs
 * of 100,000 SHA-256 iterations each, timed from insert to all completed, with
 * processes 0 (in the main process), 1, 2 and 4. In the same run, the floor:
 * the same jobs spread over N plain forked processes, no queue, no Nest. Also
 * the dispatch overhead (no-op cpu jobs through the pool vs in the main
 * process) and each worker process's resident memory.
 *
 *   npm run bench:cpu            (JOBS, ROUNDS, PROCESSES=0,1,2,4 to change)
 *
 * It runs compiled (bench/build.sh), as production does: under ts-node every
 * worker process would also load the TypeScript compiler.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { Oban, type InsertAllEntry } from '../lib';
import { bootBenchApp, NoopCpuWorker, ShaChainWorker } from './cpu/app';
import { shaChain } from './cpu/sha-chain';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface CpuBenchOptions {
  jobs?: number;
  rounds?: number;
  processes?: number[];
  noopJobs?: number;
  onProgress?: (label: string, done: number, total: number) => void;
}

type Progress = (label: string, done: number, total: number) => void;

export interface CpuBenchRow {
  label: string;
  processes: number;
  seconds: number;
  speedup: number;
  /** For nest-oban rows: the plain-fork floor's speedup at the same N, and nest-oban's share of it. */
  floorSpeedup?: number;
  ofFloor?: number;
}

export interface CpuBenchResult {
  jobs: number;
  rounds: number;
  rows: CpuBenchRow[];
  dispatchOverheadMs: { inProcess: number; pool: number; perJob: number };
  workerRssMb: number[];
}

export async function runCpuBenchmark(options: CpuBenchOptions = {}): Promise<CpuBenchResult> {
  const jobs = options.jobs ?? 100;
  const rounds = options.rounds ?? 100_000;
  const counts = options.processes ?? [0, 1, 2, 4];
  const progress = options.onProgress ?? (() => undefined);

  // Floor: in one plain process, then over N plain forked processes.
  const plainStart = performance.now();
  for (let i = 0; i < jobs; i++) {
    shaChain(rounds, `job-${i}`);
    progress('plain, one process', i + 1, jobs);
  }
  const plainSeconds = (performance.now() - plainStart) / 1000;
  const floor = new Map<number, number>();
  for (const n of counts.filter((c) => c > 0)) floor.set(n, await forkedFloor(n, jobs, rounds, progress));

  const rows: CpuBenchRow[] = [{ label: 'plain loop, main process', processes: 0, seconds: plainSeconds, speedup: 1 }];
  for (const [n, seconds] of floor) {
    rows.push({ label: `plain fork x${n} (floor)`, processes: n, seconds, speedup: plainSeconds / seconds });
  }

  let inProcess = 0;
  let workerRssMb: number[] = [];
  for (const n of counts) {
    const chains = Array.from({ length: jobs }, (_, i) => ({
      worker: ShaChainWorker,
      args: { rounds, seed: `job-${i}` },
    }));
    const { seconds, rss } = await timeRun(n, chains, `nest-oban, processes: ${n}`, progress);
    if (n === 0) inProcess = seconds;
    if (rss.length) workerRssMb = rss;
    const speedup = inProcess / seconds;
    const floorSpeedup = n === 0 ? undefined : plainSeconds / floor.get(n)!;
    rows.push({
      label: n === 0 ? 'nest-oban, processes: 0' : `nest-oban, processes: ${n}`,
      processes: n,
      seconds,
      speedup,
      floorSpeedup,
      ofFloor: floorSpeedup ? speedup / floorSpeedup : undefined,
    });
  }

  const noopJobs = options.noopJobs ?? 2_000;
  const noops = Array.from({ length: noopJobs }, () => ({ worker: NoopCpuWorker, args: {} }));
  const poolSize = Math.max(...counts, 1);
  const noopIn = (await timeRun(0, noops, 'no-op cpu jobs, processes: 0', progress)).seconds;
  const noopPool = (await timeRun(poolSize, noops, `no-op cpu jobs, processes: ${poolSize}`, progress)).seconds;
  return {
    jobs,
    rounds,
    rows,
    dispatchOverheadMs: {
      inProcess: (noopIn * 1000) / noopJobs,
      pool: (noopPool * 1000) / noopJobs,
      perJob: ((noopPool - noopIn) * 1000) / noopJobs,
    },
    workerRssMb,
  };
}

async function forkedFloor(n: number, jobs: number, rounds: number, progress: Progress) {
  const children = await Promise.all(
    Array.from({ length: n }, () => {
      const child = fork(require.resolve('./cpu/floor-child'), [], { execArgv: process.execArgv });
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
        progress(`plain fork x${n}`, ++done, jobs);
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
async function timeRun(processes: number, entries: InsertAllEntry[], label: string, progress: Progress) {
  const prefix = `bench_cpu_${randomBytes(3).toString('hex')}`;
  const app = await bootBenchApp({
    connection: DATABASE_URL,
    prefix,
    migrate: true,
    queues: { bench_cpu: 20 },
    processes,
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
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function formatCpuResult(result: CpuBenchResult): string {
  const lines = [
    `CPU benchmark: ${result.jobs} jobs x ${result.rounds.toLocaleString('en')} SHA-256 iterations, insert to all completed`,
    '',
    '| run | seconds | speedup | floor speedup | share of floor |',
    '|---|---:|---:|---:|---:|',
    ...result.rows.map(
      (r) =>
        `| ${r.label} | ${r.seconds.toFixed(2)} | ${r.speedup.toFixed(2)}x | ${r.floorSpeedup ? r.floorSpeedup.toFixed(2) + 'x' : ''} | ${r.ofFloor ? r.ofFloor.toFixed(2) : ''} |`,
    ),
    '',
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
