/**
 * The small-job benchmark: nest-oban side by side with graphile-worker and
 * pg-boss (each at its defaults and at its published performance settings)
 * on the same PostgreSQL, and BullMQ on Redis as a reference. Every system
 * runs as a deployment would: a producer process that stores the jobs
 * (producer.ts) and a worker process of its own that runs them (workers.ts),
 * each system in its own schema. `npm run bench` runs it, then the CPU
 * benchmark (bench/cpu/); `--no-cpu` runs it alone.
 *
 *   npm run bench -- --no-cpu                    # 3 rounds of throughput, 3 latency rounds, the scale step
 *   npm run bench -- --no-cpu --quick            # 2,000 jobs, 1 round, a small scale step: checks the bench itself
 *   npm run bench -- --no-cpu --only=nest-oban,graphile-worker-tuned --runs=5
 *   npm run bench -- --no-cpu --scale            # the scale step alone (1,000,000 completed + 100,000 available rows)
 *   npm run bench -- --no-cpu --no-scale         # everything but the scale step
 *   npm run bench -- --no-cpu --quick --jobs=200 --core-jobs=200 --samples=10   # a tiny run
 *
 * --jobs: jobs per insert and drain row (and of the drain under which
 * nest-oban's latency is probed); --core-jobs: of nest-oban's insertAll and
 * limit-20 drain rows; --samples: single inserts per latency round; --runs:
 * throughput rounds; --only: systems (nest-oban, graphile-worker,
 * graphile-worker-tuned, pg-boss, pg-boss-tuned, bullmq, postgres-floor: no
 * library, the least a durable Postgres queue pays); --concurrencies:
 * the drain columns (default 10,24,50).
 * BENCH_DATABASE_URL picks the database, BENCH_REDIS_URL BullMQ's Redis.
 * Prints the tables; writes them with the raw runs to bench/results/
 * (git-ignored) as Markdown and JSON.
 */
import { ensureDatabase } from '../common/database';
import { loadAverages, runNotes } from '../common/machine';
import { ProgressBar } from '../common/progress';
import { redisReachable } from '../common/redis';
import { writeResults } from '../common/results';
import type { SystemName } from '../common/systems';
import { type Table, renderMarkdown, renderText } from '../common/table';
import { runMain } from '../common/task';
import { parseArgs } from './args';
import { type BenchPlan, type Cell, type SystemInfo, inRound, stepsFor } from './plan';
import { latencyRounds, runSystem, throughputRounds } from './rounds';
import { LABELS, buildTables } from './table';

async function main(): Promise<void> {
  const { plan, systems, scaleOnly } = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  const server = await ensureDatabase(plan.databaseUrl);
  const loadBefore = loadAverages();
  process.stderr.write(`load average (1 / 5 / 15 min) at the start: ${loadBefore}\n`);
  const missing = new Map<SystemName, string>();
  if (systems.includes('bullmq') && !(await redisReachable())) missing.set('bullmq', 'Redis not reachable');
  const running = scaleOnly ? [] : systems.filter((s) => !missing.has(s));
  const bar = new ProgressBar(totalSteps(running, plan));
  const info = new Map<SystemName, SystemInfo>();
  const cells: Cell[] = [];
  if (running.length > 0) {
    cells.push(...(await throughputRounds(running, plan, bar, info)));
    cells.push(...(await latencyRounds(running, plan, bar, info)));
  }
  if (plan.scale) cells.push(...(await runSystem('nest-oban', plan, 'scale', bar, info, '')));
  bar.finish();

  const shown = scaleOnly ? (['nest-oban'] as SystemName[]) : systems;
  const tables = buildTables(plan, shown, cells, missing, scaleOnly);
  const list: Table[] = scaleOnly ? [tables.own] : [tables.drains, tables.versus, tables.latency, tables.own];
  const notes = [
    ...runNotes('bench', ['--no-cpu'], startedAt, server, loadBefore),
    ...(scaleOnly ? [] : describe(plan)),
    ...shown
      .filter((s) => info.has(s))
      .map((s) => {
        const i = info.get(s)!;
        return `${LABELS[s].join(', ')}: ${i.settings}; completed jobs: ${i.completedRows}; ${i.clock}.`;
      }),
    ...tables.footnotes.map((f, i) => `[${i + 1}] ${f}`),
  ];
  process.stdout.write(`\n${list.map((t) => renderText(t, 2)).join('\n\n')}\n\n${notes.join('\n')}\n`);
  const markdown = [...list.map((t) => `${renderMarkdown(t, 2)}\n`), ...notes.map((n) => `- ${n}`), ''].join('\n');
  const written = writeResults('throughput', startedAt, markdown, {
    plan: { ...plan, databaseUrl: undefined },
    cells,
    notes,
  });
  process.stdout.write(`\nwritten to ${written}.{md,json}\n`);
}

/** How it was measured, for the notes. */
function describe(plan: BenchPlan): string[] {
  return [
    `Each system: a producer process (stores jobs, watches the store) and a worker process of its own (runs them), ` +
      `forked per round; no two systems share a process.`,
    `Drains: ${plan.jobs} no-op jobs stored first, timed from asking the worker process to start until the store shows ` +
      `every job finished; median of ${plan.runs} round(s), each round running every system in turn (pg-boss at its ` +
      `defaults, poll-bound, in the first only, time-boxed at ${plan.pollBoundTimeboxMs / 1000} s). ` +
      `In parentheses: the rate over graphile-worker's at its performance settings, same concurrency.`,
    `Latency: workers at concurrency ${plan.latencyConcurrency} on an empty queue, each insert after the previous job ` +
      `started and a 5-25 ms pause (plus up to one poll interval for polling systems), timed from just before the insert ` +
      `call (producer process) to the first line of the task (worker process), both read as performance.timeOrigin + ` +
      `performance.now(); ${plan.latencyRounds} round(s) of ${plan.latencySamples}, the systems taking turns, ` +
      `percentiles over all samples. "After the insert": insert-to-start minus the insert call, per sample.`,
    `nest-oban's second-queue latency: single inserts to a second queue (limit ${plan.loadLimit}, same worker process) ` +
      `while ${plan.loadJobs} jobs drain on the first at limit ${plan.loadLimit}, pooled over rounds.`,
  ];
}

/** Steps of every producer process to come, to size the progress bar. */
function totalSteps(systems: SystemName[], plan: BenchPlan): number {
  const rounds = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
  const count = (mode: 'throughput' | 'latency', n: number) =>
    rounds(n)
      .flatMap((round) => systems.filter((s) => inRound(s, round)))
      .reduce((sum, s) => sum + stepsFor(s, plan, mode).length, 0);
  const scale = plan.scale ? stepsFor('nest-oban', plan, 'scale').length : 0;
  return count('throughput', plan.runs) + count('latency', plan.latencyRounds) + scale;
}

runMain(main);
