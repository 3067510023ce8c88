/**
 * The CPU benchmark, after Oban Pro's: a batch of 100 jobs of 100,000 SHA-256
 * hashes each (sha-job.ts, the one job of every row), timed from the insert
 * to the last job finished, with N processes (0, 1, 2, 4):
 *
 * - the floor: N plain forked processes handed the jobs, no queue (N = 0:
 *   one process hashing them itself); every other row is held against it;
 * - plain processes with the tuned worker flags (what the flags do alone);
 * - nest-oban with `processes: N` (queue limit 16, `cpu: true` workers), at
 *   its defaults and with processExecArgv;
 * - BullMQ's sandboxed processor (a processor file, `useWorkerThreads: false`,
 *   concurrency N: N child processes) in a worker process beside the
 *   inserting one, on Redis (marked "Redis not reachable" without it);
 * - graphile-worker and pg-boss with N worker processes, the producer in
 *   another;
 * - an allocation-heavy JSON job (json-job.ts: parse + stringify of a ~1 MB
 *   document) on the floor, the floor with the tuned flags and nest-oban, at
 *   N = the machine's cores, each held against the floor's JSON figure.
 *
 * All rows in the same run, interleaved by round; each run in a driver
 * process of its own. Also nest-oban's dispatch overhead and the resident
 * memory of its worker processes. Compiled (bench/build.sh): no process of
 * any system loads the TypeScript compiler, as in production.
 *
 *   npm run bench:cpu                          # 100 jobs x 100,000 hashes, N = 0,1,2,4, 3 rounds
 *   npm run bench:cpu -- --quick               # 10 jobs x 20,000 hashes, 1 round
 *   npm run bench:cpu -- --processes=2                # only N = 2 (the cores here): every row, the issue's setting
 *   npm run bench:cpu -- --jobs=4 --hashes=1000 --json-rounds=1 --processes=0,1 --rounds=1 --noop-jobs=20   # a tiny run
 *
 * BENCH_DATABASE_URL picks the database. Prints the table; writes it with the
 * raw runs to bench/results/ (git-ignored) as Markdown and JSON.
 */
import { ensureDatabase } from '../common/database';
import { loadAverages, runNotes } from '../common/machine';
import { ProgressBar } from '../common/progress';
import { writeResults } from '../common/results';
import { renderMarkdown, renderText } from '../common/table';
import { runMain } from '../common/task';
import { driverRequest, runDriver } from './driver';
import { describeOverhead, dispatchOverhead } from './overhead';
import { cpuRuns, parseCpuArgs } from './plan';
import { type CpuResults, cpuNotes, cpuTable, runKey } from './table';

runMain(async () => {
  if (!__filename.endsWith('.js')) {
    throw new Error('bench: the CPU benchmark runs compiled: npm run bench:cpu (bench/build.sh, then node)');
  }
  const plan = parseCpuArgs(process.argv.slice(2));
  const startedAt = new Date();
  const server = await ensureDatabase(plan.databaseUrl);
  const loadBefore = loadAverages();
  process.stderr.write(`load average (1 / 5 / 15 min) at the start: ${loadBefore}\n`);
  const runs = cpuRuns(plan);
  const bar = new ProgressBar(runs.length * plan.rounds + 2);
  const results: CpuResults = new Map();
  for (let round = 1; round <= plan.rounds; round++) {
    for (const { row, processes } of runs) {
      bar.step(`${row.label}, N = ${processes}${plan.rounds > 1 ? ` (round ${round}/${plan.rounds})` : ''}`);
      const result = await runDriver(driverRequest(plan, row, processes), (f) => bar.progress(f));
      const key = runKey(row.key, processes);
      results.set(key, [...(results.get(key) ?? []), result]);
    }
  }
  const overhead = await dispatchOverhead(plan, bar);
  bar.finish();

  const table = cpuTable(plan, results);
  const notes = [
    ...runNotes('bench:cpu', [], startedAt, server, loadBefore),
    ...cpuNotes(plan, results),
    describeOverhead(overhead),
  ];
  process.stdout.write(`\n${renderText(table)}\n\n${notes.join('\n')}\n`);
  const markdown = [renderMarkdown(table), '', ...notes.map((n) => `- ${n}`), ''].join('\n');
  const written = writeResults('cpu', startedAt, markdown, {
    plan: { ...plan, databaseUrl: undefined },
    runs: Object.fromEntries(results),
    overhead,
    notes,
  });
  process.stdout.write(`\nwritten to ${written}.{md,json}\n`);
});
