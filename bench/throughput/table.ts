import type { SystemName } from '../common/systems';
import type { Table } from '../common/table';
import type { BenchPlan, Cell } from './plan';

/** The short name and setting of each system's rows. */
export const LABELS: Record<SystemName, [system: string, setting: string]> = {
  'nest-oban': ['nest-oban', 'defaults, queue limit = concurrency'],
  'graphile-worker': ['graphile-worker', 'defaults'],
  'graphile-worker-tuned': ['graphile-worker', 'performance settings (localQueue 500, batched completes)'],
  'pg-boss': ['pg-boss', 'defaults (polls every 2 s)'],
  'pg-boss-tuned': ['pg-boss', 'batchSize 125, LISTEN/NOTIFY, burstWhenBatchFull'],
  bullmq: ['BullMQ on Redis', 'defaults'],
  'postgres-floor': ['floor: plain SQL, no library', 'NOTIFY, one SKIP LOCKED claim per batch, durable commits'],
};

/** The reference of the drain ratios: graphile-worker at its published performance settings. */
const REFERENCE: SystemName = 'graphile-worker-tuned';

/** Cells looked up by system and row, with footnotes for their notes ([1]). */
class Cells {
  readonly footnotes: string[] = [];

  constructor(
    private readonly cells: Cell[],
    /** Systems not run, with why (e.g. Redis not reachable). */
    private readonly missing: Map<SystemName, string>,
  ) {}

  value(system: SystemName, row: string): number | undefined {
    const v = this.cells.find((c) => c.system === system && c.row === row)?.value;
    return v !== undefined && Number.isFinite(v) ? v : undefined;
  }

  text(system: SystemName, row: string, unit: 'jobs/s' | 'ms', ratio?: string): string {
    const why = this.missing.get(system);
    if (why) return why;
    const cell = this.cells.find((c) => c.system === system && c.row === row);
    if (!cell) return 'not run';
    let text = format(cell.value, unit) + (ratio ? ` (${ratio})` : '');
    if (cell.note) {
      const note = `${LABELS[system].join(', ')}: ${cell.note}`;
      if (!this.footnotes.includes(note)) this.footnotes.push(note);
      text += ` [${this.footnotes.indexOf(note) + 1}]`;
    }
    return text;
  }
}

function format(value: number, unit: 'jobs/s' | 'ms'): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (unit === 'ms') return value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0);
  return Math.round(value).toLocaleString('en-US');
}

const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b === 0 ? undefined : `${(a / b).toFixed(2)}x`;

export interface Tables {
  drains: Table;
  versus: Table;
  latency: Table;
  own: Table;
  footnotes: string[];
}

/** The four tables of the report, with the notes their cells point to by number. */
export function buildTables(
  plan: BenchPlan,
  systems: SystemName[],
  cells: Cell[],
  missing: Map<SystemName, string>,
  scaleOnly = false,
): Tables {
  const c = new Cells(cells, missing);
  const n = plan.jobs.toLocaleString('en-US');
  const conc = plan.concurrencies;

  const drains: Table = {
    header: [
      `drain ${n} no-op jobs: jobs/s (ratio to graphile-worker tuned)`,
      'setting',
      ...conc.map((k) => `concurrency ${k}`),
    ],
    rows: systems.map((s) => [
      ...LABELS[s],
      ...conc.map((k) => {
        const r = ratio(c.value(s, `drain${k}`), c.value(REFERENCE, `drain${k}`));
        return c.text(s, `drain${k}`, 'jobs/s', r);
      }),
    ]),
  };

  // The floor is no peer: it runs none of a queue's features.
  const peers = systems.filter((s) => s !== 'nest-oban' && s !== 'postgres-floor');
  const ours = (row: string) => c.value('nest-oban', row);
  const versus: Table = {
    header: [
      'nest-oban vs (> 1: nest-oban ahead)',
      'setting',
      ...conc.map((k) => `drain at ${k}`),
      `insert ${n} bulk`,
      'latency p50',
      'latency p99',
    ],
    rows: peers.map((s) => {
      const faster = (row: string) => ratio(ours(row), c.value(s, row)) ?? missing.get(s) ?? '-';
      const sooner = (row: string) => ratio(c.value(s, row), ours(row)) ?? missing.get(s) ?? '-';
      return [...LABELS[s], ...conc.map((k) => faster(`drain${k}`)), faster('insert'), sooner('p50'), sooner('p99')];
    }),
  };

  const latency: Table = {
    header: [
      `insert, latency (${plan.latencyRounds} x ${plan.latencySamples} single inserts)`,
      'setting',
      `insert ${n} bulk, jobs/s`,
      'insert-to-start p50, ms',
      'p95',
      'p99',
      'insert call p50',
      'after the insert p50',
    ],
    rows: systems.map((s) => [
      ...LABELS[s],
      c.text(s, 'insert', 'jobs/s'),
      ...['p50', 'p95', 'p99', 'insertP50', 'afterP50'].map((row) => c.text(s, row, 'ms')),
    ]),
  };

  const core = plan.coreJobs.toLocaleString('en-US');
  const load = plan.loadJobs.toLocaleString('en-US');
  const ownRows: [string, string, string, 'jobs/s' | 'ms'][] = scaleOnly
    ? []
    : [
        [`insertAll ${core} jobs (issue 2)`, 'jobs/s', 'coreInsertAll', 'jobs/s'],
        [`drain ${core} no-op jobs, limit ${plan.coreLimit} (issue 2)`, 'jobs/s', 'coreDrain', 'jobs/s'],
        [`the same, a job.stop listener and ObanMetricsModule on (issue 14)`, 'jobs/s', 'observedDrain', 'jobs/s'],
        [
          `insert-to-start p50 on a second queue during a drain of ${load} at limit ${plan.loadLimit}`,
          'ms',
          'loadP50',
          'ms',
        ],
        [`the same, p99`, 'ms', 'loadP99', 'ms'],
      ];
  if (plan.scale) {
    const s = plan.scale;
    const table = `${s.completed.toLocaleString('en-US')} completed + ${s.available.toLocaleString('en-US')} available rows`;
    ownRows.push(
      [
        `scale: drain ${s.drain.toLocaleString('en-US')} at limit ${s.limit}, ${table}`,
        'jobs/s',
        'scaleDrain',
        'jobs/s',
      ],
      [`scale: fetch statement's execution time, same table`, 'ms', 'scaleFetch', 'ms'],
    );
  }
  const own: Table = {
    header: ['nest-oban alone', 'unit', 'nest-oban'],
    rows: ownRows.map(([label, unit, row, u]) => [label, unit, c.text('nest-oban', row, u)]),
  };
  return { drains, versus, latency, own, footnotes: c.footnotes };
}
