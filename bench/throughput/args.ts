import { BENCH_DATABASE_URL } from '../common/database';
import { Flags } from '../common/flags';
import { SYSTEMS, type SystemName } from '../common/systems';
import type { BenchPlan } from './plan';

/** The plan from the command line (flags: see the top of main.ts). */
export function parseArgs(argv: string[]): { plan: BenchPlan; systems: SystemName[] } {
  const flags = new Flags(argv, ['quick', 'runs', 'jobs', 'core-jobs', 'samples', 'only'], 'bench/throughput/main.ts');
  const quick = flags.has('quick');
  const systems = (flags.list('only') ?? SYSTEMS) as SystemName[];
  for (const s of systems) {
    if (!SYSTEMS.includes(s)) throw new Error(`bench: --only: unknown system '${s}' (known: ${SYSTEMS.join(', ')})`);
  }
  const plan: BenchPlan = {
    databaseUrl: BENCH_DATABASE_URL,
    jobs: flags.int('jobs', quick ? 2_000 : 20_000),
    runs: flags.int('runs', quick ? 1 : 3),
    concurrencies: [10, 50],
    latencySamples: flags.int('samples', quick ? 50 : 200),
    latencyRounds: quick ? 1 : 3,
    latencyConcurrency: 10,
    drainTimeboxMs: quick ? 10_000 : 30_000,
    latencyTimeboxMs: quick ? 15_000 : 60_000,
    coreJobs: flags.int('core-jobs', quick ? 1_000 : 10_000),
    coreLimit: 20,
  };
  return { plan, systems };
}
