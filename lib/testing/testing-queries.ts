import type { Database } from '../db/database';
import { type Job, jobFromRow } from '../job';
import { buildTestingStatements } from './statements';

/** What `listEnqueued` matches on; unset fields match anything. */
export interface EnqueuedFilter {
  worker?: string;
  queue?: string;
  /** Matches jobs whose args contain these (jsonb `@>`). */
  args?: Record<string, unknown>;
  meta?: Record<string, unknown>;
  priority?: number;
  /** Matches jobs carrying all of these tags. */
  tags?: string[];
  limit?: number;
}

/** The queries of nest-oban/testing over `oban_jobs`, besides those a node runs. */
export class TestingQueries {
  private readonly sql: ReturnType<typeof buildTestingStatements>;

  constructor(
    private readonly db: Database,
    prefix: string,
  ) {
    this.sql = buildTestingStatements(prefix);
  }

  /** Jobs waiting to run (available or scheduled) that match. */
  async listEnqueued(filter: EnqueuedFilter): Promise<Job[]> {
    const rows = await this.db.query(this.sql.listEnqueued, [
      filter.worker ?? null,
      filter.queue ?? null,
      filter.args === undefined ? null : JSON.stringify(filter.args),
      filter.meta === undefined ? null : JSON.stringify(filter.meta),
      filter.priority ?? null,
      filter.tags ?? null,
      filter.limit ?? 1_000,
    ]);
    return rows.map(jobFromRow);
  }

  /** Makes `queue`'s scheduled/retryable jobs available (due by `until` when given). */
  async stageQueue(queue: string, until: Date | null): Promise<void> {
    await this.db.query(this.sql.stageQueue, [queue, until?.toISOString() ?? null]);
  }
}
