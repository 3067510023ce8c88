import type { SystemName } from '../common/systems';

/**
 * What one throughput/latency run measures, shared by the parent (to draw
 * progress and the table) and the per-system child processes (to run it).
 */
export interface BenchPlan {
  databaseUrl: string;
  /** Jobs per throughput run (20,000). */
  jobs: number;
  /** Repetitions of each throughput row; the median is reported. */
  runs: number;
  concurrencies: number[];
  /** Single inserts per latency round (200), and the concurrency the workers run at. */
  latencySamples: number;
  /**
   * Latency rounds, each system in turn (pg-boss, poll-bound, only in the
   * first): the machine's speed drifts over minutes, and interleaving spreads
   * that drift over all systems alike. Percentiles are over all samples.
   */
  latencyRounds: number;
  latencyConcurrency: number;
  /** A drain or latency run still going after this long is stopped and reported as such. */
  drainTimeboxMs: number;
  latencyTimeboxMs: number;
  /** nest-oban only: issue 2's rows (insertAll of 10,000; drain of 10,000 at limit 20). */
  coreJobs: number;
  coreLimit: number;
}

/** One measured cell of the table. */
export interface Cell {
  system: SystemName;
  row: string;
  value: number;
  /** Every run's value, for the JSON results. */
  runs?: number[];
  /** Shown next to the value: a time box hit, a sample count. */
  note?: string;
}

/** Messages from a child process to the parent. */
export type ChildMessage =
  | { type: 'step'; label: string }
  | { type: 'progress'; fraction: number }
  | { type: 'cell'; cell: Cell }
  | { type: 'info'; system: SystemName; settings: string; completedRows: string };

/** What one child process of the bench does: a system's throughput rows, or one latency round. */
export type BenchMode = 'throughput' | 'latency';

/** Systems that take part in a latency round after the first: pg-boss only polls, so one time-boxed round says all. */
export function inLatencyRound(system: SystemName, round: number): boolean {
  return round === 1 || system !== 'pg-boss';
}

/** Labels of the steps a system goes through, in order, so the parent can size its progress bar. */
export function stepsFor(system: SystemName, plan: BenchPlan, mode: BenchMode): string[] {
  const steps = ['warm-up'];
  if (mode === 'latency') {
    steps.push(`latency, ${plan.latencySamples} single inserts`);
    return steps;
  }
  for (let r = 1; r <= plan.runs; r++) steps.push(`insert ${plan.jobs} bulk, run ${r}/${plan.runs}`);
  for (const c of plan.concurrencies) {
    for (let r = 1; r <= plan.runs; r++) steps.push(`drain ${plan.jobs} at ${c}, run ${r}/${plan.runs}`);
  }
  if (system === 'nest-oban') {
    for (let r = 1; r <= plan.runs; r++) steps.push(`insertAll ${plan.coreJobs}, run ${r}/${plan.runs}`);
    for (let r = 1; r <= plan.runs; r++) {
      steps.push(`drain ${plan.coreJobs} at limit ${plan.coreLimit}, run ${r}/${plan.runs}`);
      steps.push(`drain ${plan.coreJobs} at limit ${plan.coreLimit}, events + metrics on, run ${r}/${plan.runs}`);
    }
  }
  return steps;
}
