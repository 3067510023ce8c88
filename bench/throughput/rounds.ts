import { percentile } from '../common/stats';
import type { SystemName } from '../common/systems';
import type { ProgressBar } from '../common/progress';
import { runTask } from '../common/task';
import { type BenchMode, type BenchPlan, type Cell, type ChildMessage, inLatencyRound } from './plan';

/** How a system runs, as its child process reports it for the notes. */
export type SystemInfo = { settings: string; completedRows: string };

/** Runs one system's child process (child.ts); resolves with its cells. */
export async function runSystem(
  system: SystemName,
  plan: BenchPlan,
  mode: BenchMode,
  bar: ProgressBar,
  info: Map<SystemName, SystemInfo>,
): Promise<Cell[]> {
  const cells: Cell[] = [];
  await runTask<ChildMessage>(require.resolve('./child'), [system, JSON.stringify(plan), mode], (message) => {
    if (message.type === 'step') bar.step(`${system}: ${message.label}${mode === 'latency' ? ' (latency)' : ''}`);
    else if (message.type === 'progress') bar.progress(message.fraction);
    else if (message.type === 'cell') cells.push(message.cell);
    else info.set(system, message);
  });
  return cells;
}

/**
 * The latency rows: rounds in which each system takes its turn, so a drift in
 * the machine's speed over the minutes of the bench falls on all alike;
 * percentiles over every sample of a system.
 */
export async function latencyRounds(
  systems: SystemName[],
  plan: BenchPlan,
  bar: ProgressBar,
  info: Map<SystemName, SystemInfo>,
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
