import { median } from '../common/stats';
import type { Table } from '../common/table';
import type { BatchResult } from './driver';
import { type CpuPlan, type CpuRow, TUNED_EXEC_ARGV, cpuRows } from './plan';

/** The results of every round, by `runKey`. */
export type CpuResults = Map<string, BatchResult[]>;

export function runKey(rowKey: string, processes: number): string {
  return `${rowKey}@${processes}`;
}

/**
 * One row per system and configuration, one column per N: the median time
 * of the batch and, in parentheses, the floor's median at the same N divided
 * by it (1.00: as fast as the floor; below 1: slower). `*`: time-boxed.
 */
export function cpuTable(plan: CpuPlan, results: CpuResults): Table {
  const seconds = (row: CpuRow, n: number) => {
    const runs = results.get(runKey(row.key, n));
    return (
      runs && {
        median: median(runs.map((r) => r.seconds)),
        timedOut: runs.some((r) => r.timedOut),
        unavailable: runs.find((r) => r.unavailable)?.unavailable,
      }
    );
  };
  const rows = cpuRows(plan);
  return {
    header: ['CPU: seconds (floor / this)', ...plan.processes.map((n) => (n === 0 ? 'in process' : `N = ${n}`))],
    rows: rows.map((row) => [
      row.label,
      ...plan.processes.map((n) => {
        const own = seconds(row, n);
        if (!own) return '-';
        if (own.unavailable) return own.unavailable;
        const floor = rows.find((r) => r.key === row.floor)!;
        const base = seconds(floor, n);
        const ratio = row === floor || !base ? '' : ` (${(base.median / own.median).toFixed(2)})`;
        return `${own.median.toFixed(2)} s${ratio}${own.timedOut ? ' *' : ''}`;
      }),
    ]),
  };
}

/** The notes under the table: what was timed and how, and nest-oban's worker memory. */
export function cpuNotes(plan: CpuPlan, results: CpuResults): string[] {
  const notes = [
    `${plan.jobs} jobs x ${plan.hashes.toLocaleString('en-US')} SHA-256 hashes, the same job function for every row, ` +
      `timed from the insert until the database shows every job finished (the floor: from the first job handed out ` +
      `to the last one done); median of ${plan.rounds} round(s), each running every row in turn.`,
    `In parentheses: the floor's time at the same N (JSON rows: the JSON job's floor) divided by the row's (1.00: as fast as the floor). ` +
      `In process: the jobs run in the process that inserts them (nest-oban processes: 0; the floor hashing them itself).`,
    `JSON job rows: ${plan.jobs} jobs of ${plan.jsonRounds} x JSON.parse + JSON.stringify of a ~1 MB document ` +
      `(built once per process, at its first job), held against the floor running the same JSON job.`,
    `nest-oban: \`cpu: true\` workers, queue limit ${plan.queueLimit}, processes: N, its defaults otherwise. ` +
      `Tuned flags: worker processes started with ${TUNED_EXEC_ARGV.join(' ')} (nest-oban: as processExecArgv). ` +
      `BullMQ: one worker process beside the inserting one, new Worker(queue, <processor file>, ` +
      `{ useWorkerThreads: false, concurrency: N }), so N sandboxed child processes, on Redis. ` +
      `graphile-worker and pg-boss: their defaults but for the concurrency, N worker processes beside the inserting one.`,
  ];
  if ([...results.values()].flat().some((r) => r.timedOut)) {
    notes.push(`* time-boxed at ${plan.timeboxMs / 1000} s: extrapolated from the rate reached.`);
  }
  const largest = Math.max(...plan.processes);
  const rss = results.get(runKey('nest-oban', largest))?.at(-1)?.rssMb ?? [];
  if (rss.length > 0) {
    notes.push(
      `nest-oban worker processes' resident memory (processes: ${largest}): ${rss.map((m) => `${m} MB`).join(', ')}.`,
    );
  }
  return notes;
}
