/**
 * The throughput and latency benchmark: nest-oban side by side with
 * graphile-worker and pg-boss on the same PostgreSQL, each in its own process
 * and schema. `npm run bench` runs it, then the CPU benchmark (bench/cpu/);
 * `--no-cpu` runs it alone.
 *
 *   npm run bench -- --no-cpu                    # 3 runs per throughput row, 3 latency rounds
 *   npm run bench -- --no-cpu --quick            # 2,000 jobs, 1 run, 1 round: checks the bench itself
 *   npm run bench -- --no-cpu --only=nest-oban --runs=5
 *   npm run bench -- --no-cpu --quick --jobs=200 --core-jobs=200 --samples=10   # a tiny run
 *
 * --jobs: jobs per insert and drain row; --core-jobs: of nest-oban's insertAll
 * and limit-20 drain rows; --samples: single inserts per latency round.
 * BENCH_DATABASE_URL picks the database. Prints one table; writes it with the
 * raw runs to bench/results/ (git-ignored) as Markdown and JSON.
 */
import * as os from 'node:os';
import { ensureDatabase } from '../common/database';
import { runNotes } from '../common/machine';
import { ProgressBar } from '../common/progress';
import { writeResults } from '../common/results';
import type { SystemName } from '../common/systems';
import { renderMarkdown, renderText } from '../common/table';
import { runMain } from '../common/task';
import { parseArgs } from './args';
import { type BenchPlan, type Cell, inLatencyRound, stepsFor } from './plan';
import { type SystemInfo, latencyRounds, runSystem } from './rounds';
import { buildTable } from './table';

async function main(): Promise<void> {
  const { plan, systems } = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  const server = await ensureDatabase(plan.databaseUrl);
  const loadBefore = os.loadavg()[0];
  const bar = new ProgressBar(totalSteps(systems, plan));
  const info = new Map<SystemName, SystemInfo>();
  const cells: Cell[] = [];
  for (const system of systems) cells.push(...(await runSystem(system, plan, 'throughput', bar, info)));
  cells.push(...(await latencyRounds(systems, plan, bar, info)));
  bar.finish();

  const table = buildTable(plan, systems, cells);
  const notes = [
    ...runNotes('bench', ['--no-cpu'], startedAt, server, loadBefore),
    `Throughput rows: median of ${plan.runs} run(s). Drain: ${plan.jobs} jobs stored first, timed from starting the workers ` +
      `until the database shows every job finished. Latency: workers at concurrency ${plan.latencyConcurrency} on an empty queue, ` +
      `each insert after the previous job started and a 5-25 ms pause (plus up to one poll interval for polling systems), ` +
      `timed from just before the insert call to the first line of the task; ${plan.latencyRounds} round(s) of ${plan.latencySamples}, ` +
      `the systems taking turns (pg-boss in the first only), percentiles over all samples. Ratio column: > 1 means nest-oban is ahead.`,
    ...systems.map((s) => `${s}: ${info.get(s)?.settings}; completed jobs: ${info.get(s)?.completedRows}.`),
    ...table.footnotes.map((f, i) => `[${i + 1}] ${f}`),
  ];
  process.stdout.write(`\n${renderText(table, 2)}\n\n${notes.join('\n')}\n`);
  const markdown = [renderMarkdown(table, 2), '', ...notes.map((n) => `- ${n}`), ''].join('\n');
  const written = writeResults('throughput', startedAt, markdown, {
    plan: { ...plan, databaseUrl: undefined },
    cells,
    notes,
  });
  process.stdout.write(`\nwritten to ${written}.{md,json}\n`);
}

/** Steps of every child process to come, to size the progress bar. */
function totalSteps(systems: SystemName[], plan: BenchPlan): number {
  const rounds = Array.from({ length: plan.latencyRounds }, (_, i) => i + 1);
  const latencyRuns = rounds.flatMap((round) => systems.filter((s) => inLatencyRound(s, round)));
  return (
    systems.reduce((n, s) => n + stepsFor(s, plan, 'throughput').length, 0) +
    latencyRuns.reduce((n, s) => n + stepsFor(s, plan, 'latency').length, 0)
  );
}

runMain(main);
