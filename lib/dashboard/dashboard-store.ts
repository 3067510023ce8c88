import type { ClusterStatements } from '../db/cluster-statements';
import { type Job, jobFromRow } from '../job';
import type { BoundedReads } from './bounded-reads';
import { type JobFilter, containsPattern } from './job-filter';
import type { DashboardStatements } from './statements';

/** One page of a job list, newest first. */
export interface JobPage {
  jobs: Job[];
  /** The cursor of the next page (`id < next`), or null when nothing older is left. */
  next: number | null;
  /**
   * Set when the request's window ran out before the page filled (a narrow
   * filter over many rows): jobs with ids from this one up were all searched,
   * and `next` goes on below it.
   */
  searchedDownTo: number | null;
}

export interface FilterCount {
  count: number;
  /** True when `count` is the planner's estimate (the table is above `estimateAbove`). */
  estimated: boolean;
}

/** The dashboard's job reads: keyset pages and counts, each bounded (BoundedReads). */
export class DashboardStore {
  constructor(
    private readonly reads: BoundedReads,
    private readonly sql: DashboardStatements,
    private readonly clusterSql: ClusterStatements,
    private readonly searchWindow: number,
    private readonly estimateAbove: number,
  ) {}

  /** Up to `limit` jobs matching `filter` with ids below `cursor` (all when null), newest first. */
  async listJobs(filter: JobFilter, cursor: number | null, limit: number): Promise<JobPage> {
    // The leading filter picks the index the window walks; the others narrow the window.
    const path = filter.state !== undefined ? 'state' : filter.queue !== undefined ? 'queue' : 'all';
    const statement = { all: this.sql.listAll, state: this.sql.listByState, queue: this.sql.listByQueue }[path];
    const narrowed = Object.keys(filter).filter((k) => k !== path).length > 0;
    const window = narrowed ? Math.max(this.searchWindow, limit) : limit;
    const [row] = await this.reads.run((q) =>
      q.query<{ scanned: number; floor: string | null; jobs: unknown }>(
        statement,
        DashboardStore.listValues(filter, cursor, window, limit),
      ),
    );
    const raw = typeof row.jobs === 'string' ? JSON.parse(row.jobs) : row.jobs;
    const jobs = (raw as Record<string, unknown>[]).map(jobFromRow);
    if (jobs.length === limit) return { jobs, next: jobs[jobs.length - 1].id, searchedDownTo: null };
    if (row.scanned === window && row.floor !== null) {
      const floor = Number(row.floor);
      return { jobs, next: floor > 1 ? floor : null, searchedDownTo: floor };
    }
    return { jobs, next: null, searchedDownTo: null };
  }

  /** How many jobs `filter` matches: exact on a small table, the planner's estimate above `estimateAbove` rows. */
  async countJobs(filter: JobFilter): Promise<FilterCount> {
    return this.reads.run(async (q) => {
      const total = planRows(await q.query(this.clusterSql.estimateJobs));
      const values = filterValues(filter);
      if (total > this.estimateAbove) {
        return { count: planRows(await q.query(this.sql.estimateFilter, values)), estimated: true };
      }
      const [row] = await q.query<{ count: number }>(this.sql.countFilter, values);
      return { count: Number(row.count), estimated: false };
    });
  }

  /** A list statement's parameters, in order (tests EXPLAIN the statements with them). */
  static listValues(filter: JobFilter, cursor: number | null, window: number, limit: number): unknown[] {
    return [cursor, window, limit, ...filterValues(filter)];
  }
}

function filterValues(filter: JobFilter): unknown[] {
  return [
    filter.state ?? null,
    filter.queue ?? null,
    filter.worker ?? null,
    filter.tag ?? null,
    filter.text === undefined ? null : containsPattern(filter.text),
  ];
}

/** The top node's row estimate of an `EXPLAIN (FORMAT JSON)` answer. */
export function planRows(rows: unknown[]): number {
  const cell = (rows[0] as Record<string, unknown>)['QUERY PLAN'];
  const plan = typeof cell === 'string' ? JSON.parse(cell) : cell;
  return Math.round(Number((plan as Array<{ Plan: { 'Plan Rows': number } }>)[0].Plan['Plan Rows']));
}
