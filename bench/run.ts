/**
 * The benchmark: nest-oban side by side with graphile-worker and pg-boss on
 * the same PostgreSQL, each in its own process and schema.
 *
 *   npm run bench                 # everything, 3 runs per throughput row
 *   npm run bench -- --quick      # 2,000 jobs, 1 run: checks the bench itself
 *   npm run bench -- --only=nest-oban --runs=5
 *   npm run bench -- --no-cpu     # skip the CPU (multi-process) benchmark
 *   npm run bench -- --cpu-only   # only the CPU benchmark
 *
 * BENCH_DATABASE_URL picks the database (default: nest_oban_bench on
 * 127.0.0.1, created when missing). Prints one table; writes it with the raw
 * runs to bench/results/ (git-ignored) as JSON and Markdown.
 */
import { execFileSync, fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_BENCH_URL, ensureDatabase } from './database';
import type { CpuPlan, CpuRow } from './cpu-plan';
import {
  type BenchMode,
  type BenchPlan,
  type Cell,
  type ChildMessage,
  SYSTEMS,
  type SystemName,
  inLatencyRound,
  stepsFor,
} from './plan';
import { percentile } from './measure';
import { ProgressBar } from './progress';
import { buildTable, renderMarkdown, renderText } from './table';

interface Args {
  plan: BenchPlan;
  cpuPlan: CpuPlan;
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
  const known = new Set(['quick', 'runs', 'jobs', 'only', 'no-cpu', 'cpu-only']);
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
  const systems = flags.has('cpu-only') ? [] : ((flags.get('only')?.split(',') ?? SYSTEMS) as SystemName[]);
  for (const s of systems) {
    if (!SYSTEMS.includes(s)) throw new Error(`bench: --only: unknown system '${s}' (known: ${SYSTEMS.join(', ')})`);
  }
  const plan: BenchPlan = {
    databaseUrl: process.env.BENCH_DATABASE_URL ?? DEFAULT_BENCH_URL,
    jobs: int('jobs', quick ? 2_000 : 20_000),
    runs: int('runs', quick ? 1 : 3),
    concurrencies: [10, 50],
    latencySamples: quick ? 50 : 200,
    latencyRounds: quick ? 1 : 3,
    latencyConcurrency: 10,
    drainTimeboxMs: quick ? 10_000 : 30_000,
    latencyTimeboxMs: quick ? 15_000 : 60_000,
    coreJobs: quick ? 1_000 : 10_000,
    coreLimit: 20,
  };
  const cpuPlan: CpuPlan = {
    databaseUrl: plan.databaseUrl,
    jobs: quick ? 10 : 100,
    rounds: quick ? 20_000 : 100_000,
    processes: [1, 2],
    concurrency: 8,
    timeboxMs: quick ? 20_000 : 120_000,
  };
  return { plan, cpuPlan, systems, cpu: flags.has('cpu-only') || !flags.has('no-cpu') };
}

/** Runs one system's child process; resolves with its cells. */
function runSystem(
  system: SystemName,
  plan: BenchPlan,
  mode: BenchMode,
  bar: ProgressBar,
  info: Map<SystemName, { settings: string; completedRows: string }>,
): Promise<Cell[]> {
  const cells: Cell[] = [];
  const label = mode;
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, 'child.ts'), [system, JSON.stringify(plan), mode], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let finished = false;
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'step') bar.step(`${system}: ${message.label}${mode === 'latency' ? ` (${label})` : ''}`);
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

/** The peers' CPU rows (and the plain-process floor), from bench/cpu-peers.ts in a process of its own. */
function runPeerCpu(cpuPlan: CpuPlan, bar: ProgressBar): Promise<CpuRow[]> {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, 'cpu-peers.ts'), [JSON.stringify(cpuPlan)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let rows: CpuRow[] | undefined;
    child.on('message', (m: { type: string; label?: string; fraction?: number; rows?: CpuRow[] }) => {
      if (m.type === 'step') bar.step(m.label!);
      else if (m.type === 'progress') bar.progress(m.fraction!);
      else if (m.type === 'cpu') rows = m.rows;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      rows ? resolve(rows) : reject(new Error(`bench: the CPU process ended with ${signal ?? `code ${code}`}`)),
    );
  });
}

function renderCpu(cpuPlan: CpuPlan, rows: CpuRow[]): string {
  const header = ['CPU: time for the batch', ...cpuPlan.processes.map((n) => `${n} process${n > 1 ? 'es' : ''}`)];
  header.push(`speedup ${cpuPlan.processes.at(-1)} vs 1`);
  const body = rows.map((r) => [
    r.system,
    ...r.seconds.map((s) => `${s.toFixed(2)} s`),
    `${(r.seconds[0] / r.seconds[r.seconds.length - 1]).toFixed(2)}x`,
  ]);
  const notes = rows.filter((r) => r.note).map((r) => `${r.system}: ${r.note}.`);
  return [
    renderText({ header, rows: body }),
    '',
    `${cpuPlan.jobs} jobs of ${cpuPlan.rounds.toLocaleString('en-US')} SHA-256 rounds, timed from the insert to the last job done.`,
    ...notes,
  ].join('\n');
}

/**
 * nest-oban's CPU rows: bench/cpu.ts (issue 3's benchmark, processes 0, 1, 2
 * and 4 against the plain-fork floor), compiled by bench/build.sh and run
 * without ts-node, as production runs, through bench/cpu-nest-oban.ts.
 */
async function runNestObanCpu(cpuPlan: CpuPlan, bar: ProgressBar): Promise<{ text: string; json?: unknown }> {
  bar.step('nest-oban CPU: compiling (bench/build.sh)');
  execFileSync('bash', [path.join(__dirname, 'build.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  const entry = path.join(__dirname, '..', '.bench-build', 'bench', 'cpu-nest-oban.js');
  return new Promise((resolve, reject) => {
    const child = fork(entry, [], {
      execArgv: [], // compiled: no TypeScript hook in this process or its worker processes
      env: {
        ...process.env,
        DATABASE_URL: cpuPlan.databaseUrl,
        BENCH_CPU_JOBS: String(cpuPlan.jobs),
        BENCH_CPU_ROUNDS: String(cpuPlan.rounds),
      },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    let label = '';
    let result: { text: string; json?: unknown } | undefined;
    child.on('message', (m: { type: string; label?: string; fraction?: number; text?: string; json?: unknown }) => {
      if (m.type === 'progress') {
        if (m.label !== label) bar.step(`nest-oban CPU: ${(label = m.label!)}`);
        bar.progress(m.fraction!);
      } else if (m.type === 'result') result = { text: m.text!, json: m.json };
    });
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      result ? resolve(result) : reject(new Error(`bench: nest-oban's CPU run ended with ${signal ?? `code ${code}`}`)),
    );
  });
}

/**
 * The latency rows: rounds in which each system takes its turn, so a drift in
 * the machine's speed over the minutes of the bench falls on all alike;
 * percentiles over every sample of a system.
 */
async function latencyRounds(
  systems: SystemName[],
  plan: BenchPlan,
  bar: ProgressBar,
  info: Map<SystemName, { settings: string; completedRows: string }>,
): Promise<Cell[]> {
  const samples = new Map<SystemName, number[]>();
  const notes = new Map<SystemName, string>();
  for (let round = 1; round <= plan.latencyRounds; round++) {
    for (const system of systems.filter((s) => inLatencyRound(s, round))) {
      for (const cell of await runSystem(system, plan, 'latency', bar, info)) {
        samples.set(system, [...(samples.get(system) ?? []), ...(cell.runs ?? [])]);
        if (cell.note) notes.set(system, cell.note);
      }
    }
  }
  return [...samples].flatMap(([system, values]) =>
    [50, 95, 99].map((p) => ({
      system,
      row: `p${p}`,
      value: percentile(values, p),
      runs: values,
      note: notes.get(system),
    })),
  );
}

async function main(): Promise<void> {
  const { plan, cpuPlan, systems, cpu } = parseArgs(process.argv.slice(2));
  const server = await ensureDatabase(plan.databaseUrl);
  const loadBefore = os.loadavg();
  // Peers: floor and two peers at each process count; nest-oban (bench/cpu.ts): about 11 labelled steps.
  const cpuSteps = cpu ? cpuPlan.processes.length * 3 + 11 : 0;
  const rounds = Array.from({ length: plan.latencyRounds }, (_, i) => i + 1);
  const latencyRuns = rounds.flatMap((round) => systems.filter((s) => inLatencyRound(s, round)));
  const total =
    systems.reduce((n, s) => n + stepsFor(s, plan, 'throughput').length, 0) +
    latencyRuns.reduce((n, s) => n + stepsFor(s, plan, 'latency').length, 0) +
    cpuSteps;
  const bar = new ProgressBar(total);
  const info = new Map<SystemName, { settings: string; completedRows: string }>();
  const cells: Cell[] = [];
  const startedAt = new Date();
  for (const system of systems) cells.push(...(await runSystem(system, plan, 'throughput', bar, info)));
  cells.push(...(await latencyRounds(systems, plan, bar, info)));
  const peerCpu = cpu ? await runPeerCpu(cpuPlan, bar) : undefined;
  const cpuResult = cpu ? await runNestObanCpu(cpuPlan, bar) : undefined;
  bar.finish();
  const loadAfter = os.loadavg();

  const table = buildTable(plan, systems, cells);
  const machine =
    `${os.cpus().length} CPU (${os.cpus()[0]?.model.trim()}), Node ${process.version}, ${server}; ` +
    `load average ${loadBefore[0].toFixed(2)} before, ${loadAfter[0].toFixed(2)} after`;
  const notes = [
    `Command: npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}; ${startedAt.toISOString()}`,
    `Machine: ${machine}`,
    ...(systems.length === 0
      ? []
      : [
          `Throughput rows: median of ${plan.runs} run(s). Drain: ${plan.jobs} jobs stored first, timed from starting the workers ` +
            `until the database shows every job finished. Latency: workers at concurrency ${plan.latencyConcurrency} on an empty queue, ` +
            `each insert after the previous job started and a 5-25 ms pause (plus up to one poll interval for polling systems), ` +
            `timed from just before the insert call to the first line of the task; ${plan.latencyRounds} round(s) of ${plan.latencySamples}, ` +
            `the systems taking turns (pg-boss in the first only), percentiles over all samples. Ratio column: > 1 means nest-oban is ahead.`,
          ...systems.map((s) => `${s}: ${info.get(s)?.settings}; completed jobs: ${info.get(s)?.completedRows}.`),
        ]),
    ...table.footnotes.map((f, i) => `[${i + 1}] ${f}`),
  ];
  const cpuText = peerCpu ? renderCpu(cpuPlan, peerCpu) : '';
  const text = [systems.length > 0 ? renderText(table) : '', '', ...notes].join('\n');
  process.stdout.write(`\n${text}\n`);
  if (cpuText) process.stdout.write(`\n${cpuText}\n`);
  if (cpuResult) process.stdout.write(`\n${cpuResult.text}\n`);
  if (!cpu) process.stdout.write(`\n(CPU benchmark skipped)\n`);

  const dir = path.join(__dirname, 'results');
  fs.mkdirSync(dir, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const markdown = [
    systems.length > 0 ? renderMarkdown(table) : '',
    '',
    ...notes.map((n) => `- ${n}`),
    '',
    cpuText ? '```\n' + cpuText + '\n```' : '',
    cpuResult?.text ?? '',
  ].join('\n');
  fs.writeFileSync(path.join(dir, `bench-${stamp}.md`), markdown);
  fs.writeFileSync(path.join(dir, 'latest.md'), markdown);
  fs.writeFileSync(
    path.join(dir, `bench-${stamp}.json`),
    JSON.stringify(
      { plan: { ...plan, databaseUrl: undefined }, machine, cells, notes, peerCpu, cpu: cpuResult?.json },
      null,
      2,
    ),
  );
  process.stdout.write(`\nwritten to bench/results/bench-${stamp}.{md,json}\n`);
}

main().catch((error) => {
  process.stderr.write(`\n${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
