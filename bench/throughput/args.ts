import { BENCH_DATABASE_URL } from '../common/database';
import { Flags } from '../common/flags';
import { SYSTEMS, type SystemName } from '../common/systems';
import type { BenchPlan } from './plan';

/** The plan from the command line (flags: see the top of main.ts), and whether to run only the scale step. */
export function parseArgs(argv: string[]): { plan: BenchPlan; systems: SystemName[]; scaleOnly: boolean } {
  const flags = new Flags(
    argv,
    ['quick', 'runs', 'jobs', 'core-jobs', 'samples', 'only', 'concurrencies', 'scale', 'no-scale'],
    'bench/throughput/main.ts',
  );
  const quick = flags.has('quick');
  const systems = (flags.list('only') ?? SYSTEMS) as SystemName[];
  for (const s of systems) {
    if (!SYSTEMS.includes(s)) throw new Error(`bench: --only: unknown system '${s}' (known: ${SYSTEMS.join(', ')})`);
  }
  if (flags.has('scale') && flags.has('no-scale')) throw new Error('bench: --scale and --no-scale exclude each other');
  const jobs = flags.int('jobs', quick ? 2_000 : 20_000);
  const withScale = !flags.has('no-scale') && (flags.has('scale') || systems.includes('nest-oban'));
  const plan: BenchPlan = {
    databaseUrl: BENCH_DATABASE_URL,
    jobs,
    runs: flags.int('runs', quick ? 1 : 3),
    concurrencies: flags.ints('concurrencies', [10, 24, 50], 1),
    latencySamples: flags.int('samples', quick ? 50 : 200),
    latencyRounds: quick ? 1 : 3,
    latencyConcurrency: 10,
    drainTimeboxMs: quick ? 10_000 : 30_000,
    pollBoundTimeboxMs: quick ? 4_000 : 10_000,
    latencyTimeboxMs: quick ? 15_000 : 60_000,
    coreJobs: flags.int('core-jobs', quick ? 1_000 : 10_000),
    coreLimit: 20,
    loadJobs: jobs,
    loadLimit: 10,
    scale: withScale
      ? quick
        ? { completed: 20_000, available: 5_000, drain: Math.min(jobs, 2_000), limit: 10 }
        : { completed: 1_000_000, available: 100_000, drain: 20_000, limit: 10 }
      : undefined,
  };
  return { plan, systems, scaleOnly: flags.has('scale') };
}
