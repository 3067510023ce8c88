import type { SystemName } from '../common/systems';

/**
 * What one throughput/latency run measures, shared by the parent (to draw
 * progress and the table) and the per-system producer processes (to run it).
 */
export interface BenchPlan {
  databaseUrl: string;
  /** Jobs per insert and drain row (20,000). */
  jobs: number;
  /**
   * Rounds of the throughput rows: in each, every system in turn runs its
   * insert and one drain at each concurrency (a poll-bound system only in the
   * first). The machine's speed drifts over minutes; interleaving spreads the
   * drift over all systems alike. The table shows medians over rounds.
   */
  runs: number;
  concurrencies: number[];
  /** Single inserts per latency round (200), and the concurrency the workers run at. */
  latencySamples: number;
  /** Latency rounds, each system in turn (a poll-bound system only in the first); percentiles over all samples. */
  latencyRounds: number;
  latencyConcurrency: number;
  /** A drain or latency run still going after this long is stopped and reported as such. */
  drainTimeboxMs: number;
  /** The same for a poll-bound system, whose rate is steady within seconds. */
  pollBoundTimeboxMs: number;
  latencyTimeboxMs: number;
  /** nest-oban only: issue 2's rows (insertAll of 10,000; drain of 10,000 at limit 20). */
  coreJobs: number;
  coreLimit: number;
  /** nest-oban only: the drain under which the side queue's latency is probed (20,000 at limit 10). */
  loadJobs: number;
  loadLimit: number;
  /** The scale step (`--scale`): completed and available rows stored first, and the drain of some of them at `scaleLimit`. */
  scale: { completed: number; available: number; drain: number; limit: number } | undefined;
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

/** How a system runs, as its producer process reports it for the notes. */
export type SystemInfo = { settings: string; completedRows: string; clock?: string };

/** Messages from a producer process to the parent. */
export type ChildMessage =
  | { type: 'step'; label: string }
  | { type: 'progress'; fraction: number }
  | { type: 'cell'; cell: Cell }
  | ({ type: 'info'; system: SystemName } & SystemInfo);

/** What one producer process does: a system's throughput round, one latency round, or nest-oban's scale step. */
export type BenchMode = 'throughput' | 'latency' | 'scale';

/** pg-boss at its defaults polls every 2 s: its rates and latencies are steady within one run. */
export function pollBound(system: SystemName): boolean {
  return system === 'pg-boss';
}

/** Whether `system` takes part in round `round` (from 1) of a mode. */
export function inRound(system: SystemName, round: number): boolean {
  return round === 1 || !pollBound(system);
}

export function drainTimebox(plan: BenchPlan, system: SystemName): number {
  return pollBound(system) ? plan.pollBoundTimeboxMs : plan.drainTimeboxMs;
}

/** Labels of the steps a producer process goes through, in order, so the parent can size its progress bar. */
export function stepsFor(system: SystemName, plan: BenchPlan, mode: BenchMode): string[] {
  if (mode === 'scale') {
    const s = plan.scale!;
    return [
      `scale: store ${s.completed.toLocaleString('en-US')} completed + ${s.available.toLocaleString('en-US')} available rows`,
      'scale: EXPLAIN ANALYZE of the fetch statement',
      `scale: drain ${s.drain.toLocaleString('en-US')} at limit ${s.limit}`,
    ];
  }
  const steps = ['warm-up'];
  if (mode === 'latency') {
    steps.push(`latency, ${plan.latencySamples} single inserts`);
    return steps;
  }
  steps.push(`insert ${plan.jobs} bulk`);
  for (const c of plan.concurrencies) steps.push(`drain ${plan.jobs} at ${c}`);
  if (system === 'nest-oban') {
    steps.push(`insertAll ${plan.coreJobs}`);
    steps.push(`drain ${plan.coreJobs} at limit ${plan.coreLimit}`);
    steps.push(`drain ${plan.coreJobs} at limit ${plan.coreLimit}, events + metrics on`);
    steps.push(`latency on a second queue during a drain of ${plan.loadJobs} at limit ${plan.loadLimit}`);
  }
  return steps;
}
