import type { EntityManager } from 'typeorm';
import { ObanValidationError } from '../errors';
import { findNonJson, isPlainObject } from '../json';
import type { InsertRow } from '../store/job-store';
import { type Fail, MAX_DELAY_SECONDS, knownKeys, maxAttempts, priority, queueName, tags } from './rules';
import { REPLACE_COLUMNS, type ResolvedUnique, type UniqueOptions, resolveUnique, uniqueBase } from './unique-options';
import { DEFAULT_MAX_ATTEMPTS, type ResolvedWorkerOptions } from './worker-options';

/** Per-job options of `Oban.insert` / `insertAll`. */
export interface JobOptions {
  /** Queue to run in; default: the worker's queue. */
  queue?: string;
  /** 0 (highest) to 9; default: the worker's. */
  priority?: number;
  /** When to run; default now. */
  scheduledAt?: Date;
  /** Seconds from now to run; the alternative to `scheduledAt`. */
  scheduleIn?: number;
  /** Attempts before the job is discarded; default: the worker's. */
  maxAttempts?: number;
  /** Added to the worker's tags. */
  tags?: string[];
  /** Free-form JSON kept with the job. */
  meta?: Record<string, unknown>;
  /** Unique job options; replaces the worker's `unique` (not merged). `false`: not unique. */
  unique?: UniqueOptions | boolean;
}

export interface InsertOptions extends JobOptions {
  /** Join this TypeORM transaction: the job exists only if it commits. */
  manager?: EntityManager;
}

/** How a worker reference resolved: what the decorator declares, or only a name. */
export interface ResolvedWorkerRef {
  name: string;
  /** Present when the worker class is known (passed directly or registered here). */
  metadata?: ResolvedWorkerOptions;
}

const JOB_OPTION_KEYS = [
  'queue',
  'priority',
  'scheduledAt',
  'scheduleIn',
  'maxAttempts',
  'tags',
  'meta',
  'unique',
  'manager',
];

/**
 * Validates one job and turns it into a row; whether its queue runs anywhere
 * is the caller's to check (it may need the database). `where` prefixes every
 * message ("insert(HashWorker)", "insertAll[3] (HashWorker)") so the caller
 * sees which job and which field is wrong.
 */
export function validateJob(
  worker: ResolvedWorkerRef,
  args: unknown,
  givenOptions: JobOptions | undefined,
  where: string,
): InsertRow {
  const fail: Fail = (message) => {
    throw new ObanValidationError(`${where}: ${message}`);
  };
  const options = givenOptions ?? {};
  if (typeof options !== 'object') fail(`options must be an object of job options, got ${typeof options}`);
  knownKeys(options, JOB_OPTION_KEYS, fail);
  const declared = worker.metadata;

  if (!isPlainObject(args)) {
    fail(
      `args must be a plain object of JSON values, got ${args === null ? 'null' : Array.isArray(args) ? 'an array' : typeof args}`,
    );
  }
  const argsProblem = findNonJson(args, 'args');
  if (argsProblem) fail(argsProblem);

  if (options.queue === undefined && declared === undefined) {
    fail(
      `unknown worker '${worker.name}': no @Worker class with that name is registered in this app. ` +
        `Register the class in a module's providers, or pass { queue } to enqueue for a worker that runs on other nodes`,
    );
  }
  const queue = queueName(options.queue ?? declared!.queue, fail);
  const jobPriority = priority(options.priority ?? declared?.priority ?? 0, fail);
  const attempts = maxAttempts(options.maxAttempts ?? declared?.maxAttempts ?? DEFAULT_MAX_ATTEMPTS, fail);
  const extraTags = options.tags === undefined ? [] : tags(options.tags, fail);
  const jobMeta = options.meta ?? {};
  if (!isPlainObject(jobMeta)) fail(`meta must be a plain object of JSON values`);
  const metaProblem = findNonJson(jobMeta, 'meta');
  if (metaProblem) fail(metaProblem);

  const row: InsertRow = {
    queue,
    worker: worker.name,
    args: args as Record<string, unknown>,
    meta: jobMeta,
    tags: [...new Set([...(declared?.tags ?? []), ...extraTags].map((t) => t.trim()).filter((t) => t !== ''))],
    max_attempts: attempts,
    priority: jobPriority,
  };

  if (options.scheduledAt !== undefined && options.scheduleIn !== undefined) {
    fail(`give scheduledAt or scheduleIn, not both`);
  }
  if (options.scheduledAt !== undefined) {
    if (!(options.scheduledAt instanceof Date) || Number.isNaN(options.scheduledAt.getTime())) {
      fail(`scheduledAt must be a valid Date, got ${String(options.scheduledAt)}`);
    }
    row.scheduled_at = options.scheduledAt.toISOString();
  }
  if (options.scheduleIn !== undefined) {
    const scheduleIn = options.scheduleIn;
    if (typeof scheduleIn !== 'number' || !(scheduleIn >= 0 && scheduleIn <= MAX_DELAY_SECONDS)) {
      fail(
        `scheduleIn must be a number of seconds from 0 to ${MAX_DELAY_SECONDS} (100 years), got ${String(scheduleIn)}`,
      );
    }
    row.schedule_in = options.scheduleIn;
  }
  const unique = options.unique === undefined ? declared?.unique : resolveUnique(options.unique, fail);
  if (unique) Object.assign(row, uniqueColumns(unique, row));
  return row;
}

/** The insert row's unique_* fields (see InsertRow). */
function uniqueColumns(unique: ResolvedUnique, row: InsertRow): Partial<InsertRow> {
  const replace: NonNullable<InsertRow['unique_replace']> = {};
  for (const [state, fields] of Object.entries(unique.replace ?? {})) {
    replace[state as keyof typeof replace] = fields.map((f) => REPLACE_COLUMNS[f]);
  }
  return {
    unique_base: uniqueBase(unique, row),
    unique_period: unique.period,
    unique_by_scheduled: unique.timestamp === 'scheduledAt',
    unique_states: unique.states,
    ...(unique.replace ? { unique_replace: replace } : {}),
  };
}
