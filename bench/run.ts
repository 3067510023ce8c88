/**
 * The benchmark: nest-oban side by side with graphile-worker and pg-boss on
 * the same PostgreSQL, each in its own process and schema.
 *
 *   npm run bench                 # everything, 3 runs per throughput row
 *   npm run bench -- --quick      # 2,000 jobs, 1 run: checks the bench itself
 *   npm run bench -- --only=nest-oban --runs=5
 *   npm run bench -- --no-cpu     # skip the CPU (multi-process) benchmark
 *
 * BENCH_DATABASE_URL picks the database (default: nest_oban_bench on
 * 127.0.0.1, created when missing). Prints one table; writes it with the raw
 * runs to bench/results/ (git-ignored) as JSON and Markdown.
 */
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_BENCH_URL, ensureDatabase } from './database';
import { type BenchPlan, type Cell, type ChildMessage, SYSTEMS, type SystemName, stepsFor } from './plan';
import { ProgressBar } from './progress';
import { buildTable, renderMarkdown, renderText } from './table';

interface Args {
  plan: BenchPlan;
  systems: SystemName[];
  cpu: boolean;
}

function parseArgs(argv: string[]): Args {
  const flags = new Map<string, string>();
  for (const arg of argv) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match) throw new Error(`bench: unknown argument '${arg}' (see the top of bench/run.ts)`);
    flags.set(match[1], match[2] ?? 'true');
  }
  const known = new Set(['quick', 'runs', 'jobs', 'only', 'no-cpu', 'cpu']);
  for (const key of flags.keys()) {
    if (!known.has(key)) throw new Error(`bench: unknown flag --${key} (known: ${[...known].join(', ')})`);
  }
  const quick = flags.has('quick');
  const int = (name: string, fallback: number) => {
    const raw = flags.get(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1) throw new Error(`bench: --${name} must be a whole number >= 1`);
    return value;
  };
  const systems = (flags.get('only')?.split(',') ?? SYSTEMS) as SystemName[];
  for (const s of systems) {
    if (!SYSTEMS.includes(s)) throw new Error(`bench: --only: unknown system '${s}' (known: ${SYSTEMS.join(', ')})`);
  }
  const plan: BenchPlan = {
    databaseUrl: process.env.BENCH_DATABASE_URL ?? DEFAULT_BENCH_URL,
    jobs: int('jobs', quick ? 2_000 : 20_000),
    runs: int('runs', quick ? 1 : 3),
    concurrencies: [10, 50],
    latencySamples: quick ? 50 : 200,
    latencyConcurrency: 10,
    drainTimeboxMs: quick ? 10_000 : 30_000,
    latencyTimeboxMs: quick ? 15_000 : 60_000,
    coreJobs: quick ? 1_000 : 10_000,
    coreLimit: 20,
  };
  return { plan, systems, cpu: !flags.has('no-cpu') && !quick };
}

/** Runs one system's child process; resolves with its cells. */
function runSystem(
  system: SystemName,
  plan: BenchPlan,
  bar: ProgressBar,
  info: Map<SystemName, { settings: string; completedRows: string }>,
): Promise<Cell[]> {
  const cells: Cell[] = [];
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, 'child.ts'), [system, JSON.stringify(plan)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let finished = false;
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'step') bar.step(`${system}: ${message.label}`);
      else if (message.type === 'progress') bar.progress(message.fraction);
      else if (message.type === 'cell') cells.push(message.cell);
      else if (message.type === 'info') info.set(system, message);
      else if (message.type === 'done') finished = true;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (finished) resolve(cells);
      else reject(new Error(`bench: the ${system} process ended with ${signal ?? `code ${code}`} before finishing`));
    });
  });
}

/**
 * The multi-process (CPU) benchmark of issue 3 lives in bench/cpu.ts, written
 * with the worker-process pool. When the file is there its
 * `runCpuBenchmark({ databaseUrl, log })` runs after the table above and
 * returns its own table as text (or { text, json }).
 */
async function runCpu(plan: BenchPlan, bar: ProgressBar): Promise<{ text: string; json?: unknown } | undefined> {
  const file = path.join(__dirname, 'cpu.ts');
  if (!fs.existsSync(file)) return undefined;
  const mod = require(file);
  if (typeof mod.runCpuBenchmark !== 'function') {
    throw new Error('bench: bench/cpu.ts must export runCpuBenchmark({ databaseUrl, log })');
  }
  bar.log('CPU benchmark (bench/cpu.ts)');
  const result = await mod.runCpuBenchmark({ databaseUrl: plan.databaseUrl, log: (line: string) => bar.log(line) });
  return typeof result === 'string' ? { text: result } : result;
}

async function main(): Promise<void> {
  const { plan, systems, cpu } = parseArgs(process.argv.slice(2));
  const server = await ensureDatabase(plan.databaseUrl);
  const loadBefore = os.loadavg();
  const total = systems.reduce((n, s) => n + stepsFor(s, plan).length, 0);
  const bar = new ProgressBar(total);
  const info = new Map<SystemName, { settings: string; completedRows: string }>();
  const cells: Cell[] = [];
  const startedAt = new Date();
  for (const system of systems) cells.push(...(await runSystem(system, plan, bar, info)));
  bar.finish();
  const cpuResult = cpu ? await runCpu(plan, bar) : undefined;
  const loadAfter = os.loadavg();

  const table = buildTable(plan, systems, cells);
  const machine =
    `${os.cpus().length} CPU (${os.cpus()[0]?.model.trim()}), Node ${process.version}, ${server}; ` +
    `load average ${loadBefore[0].toFixed(2)} before, ${loadAfter[0].toFixed(2)} after`;
  const notes = [
    `Command: npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}; ${startedAt.toISOString()}`,
    `Machine: ${machine}`,
    `Throughput rows: median of ${plan.runs} run(s). Drain: ${plan.jobs} jobs stored first, timed from starting the workers ` +
      `until the database shows every job finished. Latency: workers at concurrency ${plan.latencyConcurrency} on an empty queue, ` +
      `each insert after the previous job started and a 5-25 ms pause (plus up to one poll interval for polling systems), ` +
      `timed from just before the insert call to the first line of the task. Ratio column: > 1 means nest-oban is ahead.`,
    ...systems.map((s) => `${s}: ${info.get(s)?.settings}; completed jobs: ${info.get(s)?.completedRows}.`),
    ...table.footnotes.map((f, i) => `[${i + 1}] ${f}`),
  ];
  const text = [renderText(table), '', ...notes].join('\n');
  process.stdout.write(`\n${text}\n`);
  if (cpuResult) process.stdout.write(`\n${cpuResult.text}\n`);
  if (!cpu) process.stdout.write(`\n(CPU benchmark skipped)\n`);
  else if (!cpuResult) process.stdout.write(`\n(CPU benchmark: bench/cpu.ts is not there yet; see issue 3)\n`);

  const dir = path.join(__dirname, 'results');
  fs.mkdirSync(dir, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const markdown = [renderMarkdown(table), '', ...notes.map((n) => `- ${n}`), '', cpuResult?.text ?? ''].join('\n');
  fs.writeFileSync(path.join(dir, `bench-${stamp}.md`), markdown);
  fs.writeFileSync(path.join(dir, 'latest.md'), markdown);
  fs.writeFileSync(
    path.join(dir, `bench-${stamp}.json`),
    JSON.stringify({ plan: { ...plan, databaseUrl: undefined }, machine, cells, notes, cpu: cpuResult?.json }, null, 2),
  );
  process.stdout.write(`\nwritten to bench/results/bench-${stamp}.{md,json}\n`);
}

main().catch((error) => {
  process.stderr.write(`\n${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
