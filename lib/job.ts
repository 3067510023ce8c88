/** The states of Oban's job lifecycle, as stored in `oban_jobs.state`. */
export const JOB_STATES = [
  'scheduled',
  'available',
  'executing',
  'retryable',
  'completed',
  'discarded',
  'cancelled',
] as const;

export type JobState = (typeof JOB_STATES)[number];

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
