import { median, percentile } from '../common/stats';
import type { SystemName } from '../common/systems';
import type { ProgressBar } from '../common/progress';
import { runTask } from '../common/task';
import { type BenchMode, type BenchPlan, type Cell, type ChildMessage, type SystemInfo, inRound } from './plan';

/** Runs one system's producer process (producer.ts, which forks its worker process); resolves with its cells. */
export async function runSystem(
  system: SystemName,
  plan: BenchPlan,
  mode: BenchMode,
  bar: ProgressBar,
  info: Map<SystemName, SystemInfo>,
  round: string,
): Promise<Cell[]> {
  const cells: Cell[] = [];
  await runTask<ChildMessage>(require.resolve('./producer'), [system, JSON.stringify(plan), mode], (message) => {
    if (message.type === 'step')
      bar.step(`${system}: ${message.label}${mode === 'latency' ? ' (latency)' : ''}${round}`);
    else if (message.type === 'progress') bar.progress(message.fraction);
    else if (message.type === 'cell') cells.push(message.cell);
    else info.set(system, message);
  });
  return cells;
}

function roundLabel(round: number, rounds: number): string {
  return rounds > 1 ? ` (round ${round}/${rounds})` : '';
}

/**
 * The throughput rows: rounds in which every system runs its insert and one
 * drain per concurrency in turn (a poll-bound one in the first round only),
 * so that a drift of the machine's speed falls on all alike; medians over
 * rounds. nest-oban's latency probes during a drain are pooled over rounds.
 */
export async function throughputRounds(
  systems: SystemName[],
  plan: BenchPlan,
  bar: ProgressBar,
  info: Map<SystemName, SystemInfo>,
): Promise<Cell[]> {
  const all: Cell[] = [];
  for (let round = 1; round <= plan.runs; round++) {
    for (const system of systems.filter((s) => inRound(s, round))) {
      all.push(...(await runSystem(system, plan, 'throughput', bar, info, roundLabel(round, plan.runs))));
    }
  }
  const groups = new Map<string, Cell[]>();
  for (const c of all) groups.set(`${c.system}\u0000${c.row}`, [...(groups.get(`${c.system}\u0000${c.row}`) ?? []), c]);
  return [...groups.values()].flatMap((cells): Cell[] => {
    const { system, row } = cells[0];
    const note = cells.find((c) => c.note)?.note;
    if (row === 'loadLatency') {
      const samples = cells.flatMap((c) => c.runs ?? []);
      const notes = cells.map((c) => c.note).join('; ');
      return [50, 99].map((p) => ({
        system,
        row: `loadP${p}`,
        value: percentile(samples, p),
        runs: samples,
        note: notes,
      }));
    }
    const values = cells.map((c) => c.value);
    return [{ system, row, value: median(values), runs: values, note }];
  });
}

/**
 * The latency rows: rounds in which each system takes its turn (a poll-bound
 * one in the first only); percentiles over every sample of a system, of the
 * whole insert-to-start and of the insert call alone.
 */
export async function latencyRounds(
  systems: SystemName[],
  plan: BenchPlan,
  bar: ProgressBar,
  info: Map<SystemName, SystemInfo>,
): Promise<Cell[]> {
  const samples = new Map<SystemName, { total: number[]; insert: number[] }>();
  const notes = new Map<SystemName, string>();
  for (let round = 1; round <= plan.latencyRounds; round++) {
    for (const system of systems.filter((s) => inRound(s, round))) {
      const own = samples.get(system) ?? { total: [], insert: [] };
      samples.set(system, own);
      for (const cell of await runSystem(system, plan, 'latency', bar, info, roundLabel(round, plan.latencyRounds))) {
        if (cell.row === 'latency') own.total.push(...(cell.runs ?? []));
        else own.insert.push(...(cell.runs ?? []));
        if (cell.note) notes.set(system, cell.note);
      }
    }
  }
  return [...samples].flatMap(([system, { total, insert }]) => {
    const after = total.map((t, i) => t - insert[i]);
    const note = notes.get(system);
    return [
      ...[50, 95, 99].map((p) => ({ system, row: `p${p}`, value: percentile(total, p), runs: total, note })),
      { system, row: 'insertP50', value: percentile(insert, 50), runs: insert, note },
      { system, row: 'afterP50', value: percentile(after, 50), runs: after, note },
    ];
  });
}
