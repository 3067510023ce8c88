import type { Queryable } from '../db/database';
import type { InsertedJob, Job, JobState } from '../job';

/** One row for `insertJobs`, already validated (see validation/job-options.ts). */
export interface InsertRow {
  queue: string;
  worker: string;
  args: Record<string, unknown>;
  meta: Record<string, unknown>;
  tags: string[];
  max_attempts: number;
  priority: number;
  scheduled_at?: string;
  schedule_in?: number;
  /** Unique jobs only: what the key is hashed from (uniqueBase in validation/unique-options.ts). */
  unique_base?: string;
  /** Seconds of the key's period bucket; null: Infinity (no bucket). */
  unique_period?: number | null;
  /** The bucket is that of the scheduled time (else of the insert). */
  unique_by_scheduled?: boolean;
  /** The states in which the job holds its key. */
  unique_states?: JobState[];
  /** Per state of a stored duplicate, the columns this insert overwrites in it. */
  unique_replace?: Partial<Record<JobState, string[]>>;
}

export interface ListJobsFilter {
  state?: JobState | JobState[];
  queue?: string;
  worker?: string;
  /** Default 100. */
  limit?: number;
  offset?: number;
}

/** What `deleteJob` found: the job's state before, and whether it was deleted. */
export interface DeleteResult {
  state: JobState | null;
  deleted: boolean;
}

/**
 * Where the `Oban` service keeps jobs: the one seam between the public API
 * and storage, as Oban's Engine. PgJobStore writes `oban_jobs`; the inline
 * store of `testing: 'inline'` runs each job at insert instead. Unique jobs,
 * limits and workflows plug in here.
 */
export interface JobStore {
  /** Stores validated rows (through `via`, a transaction, when given); returns the jobs in input order. */
  insertJobs(rows: InsertRow[], via?: Queryable): Promise<InsertedJob[]>;
  getJob(id: number): Promise<Job | null>;
  listJobs(filter: ListJobsFilter): Promise<Job[]>;
  /** The cancelled job, or null when there was nothing left to cancel. */
  cancelJob(id: number): Promise<Job | null>;
  /** The job made available, or null when it was already available or executing, or is gone. */
  retryJob(id: number): Promise<Job | null>;
  deleteJob(id: number): Promise<DeleteResult>;
  /** Queues that live nodes run (for inserts into queues this node does not know). */
  liveQueues(): Promise<ReadonlySet<string>>;
}
