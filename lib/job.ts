/** The states of Oban's job lifecycle, as stored in `oban_jobs.state`. */
export const JOB_STATES = [
  'scheduled',
  'available',
  'executing',
  'retryable',
  'completed',
  'discarded',
  'cancelled',
  /** A workflow step held until its dependencies complete (schema version 5). */
  'suspended',
] as const;

export type JobState = (typeof JOB_STATES)[number];

/** The states a job ends in (it runs no more unless retried). */
export const FINAL_STATES: readonly JobState[] = ['completed', 'discarded', 'cancelled'];

/** Where a job sits in a workflow: read from its meta by `workflowOf`. */
export interface JobWorkflow<Results extends Record<string, unknown> = Record<string, unknown>> {
  /** The workflow's id (`meta.workflow_id`). */
  id: string;
  /** This job's step name (`meta.workflow_step`). */
  step: string;
  /** The step names it waited for. */
  deps: string[];
  /**
   * Each dependency's recorded result by step name, written when the job was
   * released (null for a dependency that ended otherwise, under `continue`).
   */
  results: Results;
}

/**
 * The workflow context of a job (in `perform`, in this process or a worker
 * process), or null when it belongs to no workflow:
 *
 *   const { results } = workflowOf<{ fetch: { path: string } }>(job)!;
 */
export function workflowOf<Results extends Record<string, unknown> = Record<string, unknown>>(
  job: Pick<Job, 'meta'>,
): JobWorkflow<Results> | null {
  const meta = job.meta ?? {};
  if (typeof meta.workflow_id !== 'string') return null;
  return {
    id: meta.workflow_id,
    step: String(meta.workflow_step ?? ''),
    deps: Array.isArray(meta.workflow_deps) ? (meta.workflow_deps as string[]) : [],
    results: (meta.workflow_results ?? {}) as Results,
  };
}

/** One failed attempt, appended to `oban_jobs.errors`. */
export interface JobError {
  attempt: number;
  /** ISO-8601 time of the failure. */
  at: string;
  /** `Name: message` of the error. */
  error: string;
  stack?: string;
}

export type JobArgs = Record<string, unknown>;

/** A row of `oban_jobs`, as returned by `Oban.insert`, `getJob`, `listJobs` and passed to `perform`. */
export interface Job<Args = JobArgs, Result = unknown> {
  id: number;
  state: JobState;
  queue: string;
  worker: string;
  args: Args;
  meta: Record<string, unknown>;
  tags: string[];
  errors: JobError[];
  /** The value `perform` returned, once the job completed. */
  result: Result | null;
  attempt: number;
  maxAttempts: number;
  priority: number;
  insertedAt: Date;
  scheduledAt: Date;
  attemptedAt: Date | null;
  attemptedBy: string[];
  completedAt: Date | null;
  discardedAt: Date | null;
  cancelledAt: Date | null;
}

/** What `insert`/`insertAll` return: the stored job, and for a unique job whether it was stored already. */
export type InsertedJob<Args = JobArgs, Result = unknown> = Job<Args, Result> & {
  /**
   * Unique jobs: true when a job with the same unique key was already stored
   * in one of its counted states, and is returned instead (as it is now, after
   * any `replace`); false when this insert stored the job. Absent without `unique`.
   */
  conflict?: boolean;
};

/** Maps a raw `oban_jobs` row (snake_case, bigint as string) to a `Job`. */
export function jobFromRow(row: Record<string, any>): Job {
  return {
    id: Number(row.id),
    state: row.state,
    queue: row.queue,
    worker: row.worker,
    args: row.args, // as stored: a row written by another tool may hold no object (the executor discards it)
    meta: row.meta ?? {},
    tags: row.tags ?? [],
    errors: parseErrors(row.errors),
    result: row.result ?? null,
    attempt: row.attempt,
    maxAttempts: row.max_attempts,
    priority: row.priority,
    insertedAt: toDate(row.inserted_at)!,
    scheduledAt: toDate(row.scheduled_at)!,
    attemptedAt: toDate(row.attempted_at),
    attemptedBy: row.attempted_by ?? [],
    completedAt: toDate(row.completed_at),
    discardedAt: toDate(row.discarded_at),
    cancelledAt: toDate(row.cancelled_at),
  };
}

/** What an insert reads back: only the columns the database decides. */
export interface InsertedRow {
  id: string | number;
  state: JobState;
  /** Epoch milliseconds (float8, as text from pg). */
  inserted_ms: string | number;
  scheduled_ms: string | number;
}

/** A freshly inserted job: the values sent (snake_case insert row) plus what the database decided. */
export function jobFromInsert(
  sent: { queue: string; worker: string; args: any; meta: any; tags: string[]; max_attempts: number; priority: number },
  row: InsertedRow,
): Job {
  return {
    id: Number(row.id),
    state: row.state,
    queue: sent.queue,
    worker: sent.worker,
    args: sent.args,
    meta: sent.meta,
    tags: sent.tags,
    errors: [],
    result: null,
    attempt: 0,
    maxAttempts: sent.max_attempts,
    priority: sent.priority,
    insertedAt: new Date(Number(row.inserted_ms)),
    scheduledAt: new Date(Number(row.scheduled_ms)),
    attemptedAt: null,
    attemptedBy: [],
    completedAt: null,
    discardedAt: null,
    cancelledAt: null,
  };
}

function parseErrors(errors: unknown): JobError[] {
  if (!Array.isArray(errors)) return [];
  return errors.map((e) => (typeof e === 'string' ? JSON.parse(e) : e));
}

function toDate(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  return value instanceof Date ? value : new Date(value as string);
}
