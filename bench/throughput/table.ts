import type { SystemName } from '../common/systems';
import type { Table } from '../common/table';
import type { BenchPlan, Cell } from './plan';

export interface RowSpec {
  key: string;
  label: string;
  unit: string;
  /** Throughput: more is better; latency: less is better. */
  better: 'higher' | 'lower';
  /** Only these systems are measured on this row. */
  only?: SystemName[];
}

export function rowSpecs(plan: BenchPlan): RowSpec[] {
  const n = plan.jobs.toLocaleString('en-US');
  const core = plan.coreJobs.toLocaleString('en-US');
  return [
    { key: 'insert', label: `insert ${n} jobs, bulk`, unit: 'jobs/s', better: 'higher' },
    ...plan.concurrencies.map((c): RowSpec => ({
      key: `drain${c}`,
      label: `drain ${n} no-op jobs, concurrency ${c}`,
      unit: 'jobs/s',
      better: 'higher',
    })),
    ...[50, 95, 99].map((p): RowSpec => ({
      key: `p${p}`,
      label: `insert-to-start p${p}, ${plan.latencySamples} single inserts`,
      unit: 'ms',
      better: 'lower',
    })),
    {
      key: 'coreInsertAll',
      label: `insertAll ${core} jobs (issue 2)`,
      unit: 'jobs/s',
      better: 'higher',
      only: ['nest-oban'],
    },
    {
      key: 'coreDrain',
      label: `drain ${core} no-op jobs, limit ${plan.coreLimit} (issue 2)`,
      unit: 'jobs/s',
      better: 'higher',
      only: ['nest-oban'],
    },
    {
      key: 'observedDrain',
      label: `the same, a job.stop listener and ObanMetricsModule on (issue 14)`,
      unit: 'jobs/s',
      better: 'higher',
      only: ['nest-oban'],
    },
  ];
}

function format(value: number, unit: string): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (unit === 'ms') return value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0);
  return Math.round(value).toLocaleString('en-US');
}

/** The table as strings, with the notes its cells point to by number ([1]). */
export function buildTable(plan: BenchPlan, systems: SystemName[], cells: Cell[]): Table & { footnotes: string[] } {
  const header = ['measurement', 'unit', ...systems];
  const peers = systems.filter((s) => s !== 'nest-oban');
  const withRatio = systems.includes('nest-oban') && peers.length > 0;
  if (withRatio) header.push('nest-oban vs best peer');
  const footnotes: string[] = [];
  const rows = rowSpecs(plan).map((spec) => {
    const row = [spec.label, spec.unit];
    for (const system of systems) {
      const cell = cells.find((c) => c.system === system && c.row === spec.key);
      if (!cell) {
        row.push(spec.only && !spec.only.includes(system) ? '-' : 'not run');
        continue;
      }
      let text = format(cell.value, spec.unit);
      if (cell.note) {
        // Rows measured together (p50/p95/p99) share one note.
        const note = `${system}: ${cell.note}`;
        if (!footnotes.includes(note)) footnotes.push(note);
        text += ` [${footnotes.indexOf(note) + 1}]`;
      }
      row.push(text);
    }
    if (withRatio) {
      const ours = cells.find((c) => c.system === 'nest-oban' && c.row === spec.key)?.value;
      const theirs = peers
        .map((p) => cells.find((c) => c.system === p && c.row === spec.key)?.value)
        .filter((v): v is number => v !== undefined && Number.isFinite(v));
      if (ours === undefined || theirs.length === 0) row.push('-');
      else if (spec.better === 'higher') row.push(`${(ours / Math.max(...theirs)).toFixed(2)}x`);
      else row.push(`${(Math.min(...theirs) / ours).toFixed(2)}x`);
    }
    return row;
  });
  return { header, rows, footnotes };
}
