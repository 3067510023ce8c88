import type { Database, Queryable } from '../db/database';
import { runPrepared, runsPrepared } from '../db/prepared-script';
import type { Statements } from '../db/statements';
import { type InsertedJob, type InsertedRow, type Job, type JobState, jobFromInsert, jobFromRow } from '../job';
import type { DeleteResult, InsertRow, JobStore, ListJobsFilter } from './job-store';
import type { LiveQueues } from './live-queues';
import { insertUniqueJobs, uniqueHolderError } from './unique-insert';

/** The outcome of one attempt, as `ackJobs` writes it. */
export interface AckRow {
  id: number;
  /** Not written (the row has it); lets the node wake the queue of a job made available again. */
  queue: string;
  /** The attempt being acknowledged; a row on another attempt is left alone. */
  attempt: number;
  state: JobState;
  /** Added to `attempt`: -1 gives back an attempt that should not count (snooze, release). */
  attempt_change: number;
  delay_ms?: number;
  /** When the attempt started on the node (epoch ms): `attempted_at`, unless that is later (the claim). */
  started_ms?: number;
  error?: unknown;
  meta?: Record<string, unknown>;
  result?: unknown;
}

/**
 * `oban_jobs` in Postgres (or embedded PGlite): small typed functions over the
 * named statements (db/statements.ts). The `Oban` service reaches it as a
 * JobStore; producers, the acker and the stager claim, record and stage
 * through it; nothing else talks SQL to `oban_jobs`.
 */
export class PgJobStore implements JobStore {
  constructor(
    readonly db: Database,
    readonly sql: Statements,
    private readonly live: LiveQueues,
  ) {}

  /** Inserts rows in one statement, through `via` (a transaction) when given. Returns jobs in input order. */
  async insertJobs(rows: InsertRow[], via: Queryable = this.db): Promise<InsertedJob[]> {
    if (rows.length === 0) return [];
    if (rows.some((r) => r.unique_base !== undefined)) return insertUniqueJobs(via, this.sql, rows);
    const json = JSON.stringify(rows);
    const stored = await via.query<InsertedRow>(this.sql.insertJobs, [json]);
    if (stored.length !== rows.length) {
      throw new Error(`nest-oban: inserted ${stored.length} of ${rows.length} jobs`);
    }
    // Ids follow the input order. What was sent, parsed back, is what the table holds
    // (a Date in args is an ISO string there too), without reading whole rows back.
    const sent: InsertRow[] = JSON.parse(json);
    return stored.sort((a, b) => Number(a.id) - Number(b.id)).map((row, i) => jobFromInsert(sent[i], row));
  }

  async fetchJobs(queue: string, demand: number, node: string): Promise<Job[]> {
    const values = [queue, demand, node];
    // On a server, the claim prepared on the connection by its generic plan (db/prepared-script.ts): planned
    // afresh, it spent as long planning as running. Behind a transaction pooler, and on PGlite, as it is.
    const rows = runsPrepared(this.db)
      ? await runPrepared(this.db, [], this.sql.fetchJobs, values)
      : await this.db.query(this.sql.fetchJobs, values);
    return (rows as Array<Record<string, unknown>>).map(jobFromRow);
  }

  /** Writes outcomes; `wake`: queues every node is told of once they are written (a freed slot of a global limit). */
  async ackJobs(acks: AckRow[], wake: string[] = []): Promise<void> {
    if (acks.length === 0) return;
    await this.db.query(this.sql.ackJobs, [JSON.stringify(acks), wake]);
  }

  /** Stages due jobs; returns queues that have available jobs (of `localQueues`) or were just staged. */
  async stageJobs(limit: number, localQueues: string[]): Promise<string[]> {
    const rows = await this.db.query<{ queue: string }>(this.sql.stageJobs, [limit, localQueues]);
    return rows.map((r) => r.queue);
  }

  async getJob(id: number): Promise<Job | null> {
    const [row] = await this.db.query(this.sql.getJob, [id]);
    return row ? jobFromRow(row) : null;
  }

  async listJobs(filter: ListJobsFilter): Promise<Job[]> {
    const states = filter.state === undefined ? null : ([] as JobState[]).concat(filter.state);
    const rows = await this.db.query(this.sql.listJobs, [
      states,
      filter.queue ?? null,
      filter.worker ?? null,
      filter.limit ?? 100,
      filter.offset ?? 0,
    ]);
    return rows.map(jobFromRow);
  }

  /** Returns the cancelled job, or null when there was nothing left to cancel. */
  async cancelJob(id: number): Promise<Job | null> {
    const [row] = await this.db.query(this.sql.cancelJob, [id]);
    return row ? jobFromRow(row) : null;
  }

  /** Returns the job made available, or null when it was already available or executing, or is gone. */
  async retryJob(id: number): Promise<Job | null> {
    try {
      const [row] = await this.db.query(this.sql.retryJob, [id]);
      return row ? jobFromRow(row) : null;
    } catch (error) {
      // A unique job retried out of a state its key did not count in, while a duplicate holds the key.
      if ((error as { constraint?: string }).constraint !== 'oban_jobs_unique_index') throw error;
      const [holder] = await this.db.query(this.sql.uniqueHolderOf, [id]);
      throw uniqueHolderError(id, holder ? jobFromRow(holder) : undefined);
    }
  }

  async deleteJob(id: number): Promise<DeleteResult> {
    const [row] = await this.db.query<{ state: JobState; deleted: string }>(this.sql.deleteJob, [id]);
    return row ? { state: row.state, deleted: Number(row.deleted) > 0 } : { state: null, deleted: false };
  }

  liveQueues(): Promise<ReadonlySet<string>> {
    return this.live.get();
  }

  /** See the `reconcileNode` statement; `since` is a `now` it returned before. */
  async reconcileNode(check: NodeCheck): Promise<NodeCheckResult> {
    const [row] = await this.db.query<NodeCheckResult>(this.sql.reconcileNode, [
      check.node,
      check.running,
      check.held,
      check.quietQueues,
      check.since ?? 'infinity',
      check.graceMs,
    ]);
    return { now: row.now, cancelled: row.cancelled.map(Number), orphans: row.orphans };
  }
}

/** What a node asks of its rows (the `reconcileNode` statement). */
export interface NodeCheck {
  node: string;
  /** Jobs running on the node. */
  running: number[];
  /** Jobs running or with an outcome still to be written: never orphans. */
  held: number[];
  /** Queues with no claim under way. */
  quietQueues: string[];
  /** Orphans are claims made since then; undefined: none are looked for. */
  since: string | undefined;
  /** Orphans are claims older than this (ms). */
  graceMs: number;
}

export interface NodeCheckResult {
  /** The database's time, exactly (a `since` for later checks). */
  now: string;
  /** Running jobs cancelled meanwhile. */
  cancelled: number[];
  /** Claimed by the node, yet neither running nor being recorded there. */
  orphans: Array<{ id: number; queue: string; attempt: number }>;
}
