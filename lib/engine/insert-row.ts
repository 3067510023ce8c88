import type { EntityManager } from 'typeorm';
import { ObanValidationError } from '../errors';
import { findNonJson, isPlainObject } from '../json';
import type { WorkerMetadata } from '../worker/worker.decorator';
import type { InsertRow } from './engine';

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
}

export interface InsertOptions extends JobOptions {
  /** Join this TypeORM transaction: the job exists only if it commits. */
  manager?: EntityManager;
}

/** How a worker reference resolved: what the decorator declares, or only a name. */
export interface ResolvedWorkerRef {
  name: string;
  /** Present when the worker class is known (passed directly or registered here). */
  metadata?: WorkerMetadata;
}

const JOB_OPTION_KEYS = new Set([
  'queue',
  'priority',
  'scheduledAt',
  'scheduleIn',
  'maxAttempts',
  'tags',
  'meta',
  'manager',
]);

/**
 * Validates one job and turns it into a row. `where` prefixes every message
 * ("insert(HashWorker)", "insertAll[3] (HashWorker)") so the caller sees which
 * job and which field is wrong.
 */
export function buildInsertRow(
  worker: ResolvedWorkerRef,
  args: unknown,
  options: JobOptions,
  isKnownQueue: (queue: string) => boolean,
  where: string,
): InsertRow {
  const fail = (message: string): never => {
    throw new ObanValidationError(`${where}: ${message}`);
  };
  for (const key of Object.keys(options ?? {})) {
    if (!JOB_OPTION_KEYS.has(key)) fail(`unknown option '${key}' (known: ${[...JOB_OPTION_KEYS].join(', ')})`);
  }
  const meta = worker.metadata;

  if (!isPlainObject(args)) {
    fail(
      `args must be a plain object of JSON values, got ${args === null ? 'null' : Array.isArray(args) ? 'an array' : typeof args}`,
    );
  }
  const argsProblem = findNonJson(args, 'args');
  if (argsProblem) fail(argsProblem);

  const queue = options.queue ?? meta?.queue;
  if (queue === undefined) {
    fail(
      `unknown worker '${worker.name}': no @Worker class with that name is registered in this app. ` +
        `Register the class in a module's providers, or pass { queue } to enqueue for a worker that runs on other nodes`,
    );
  }
  if (typeof queue !== 'string' || !/^[A-Za-z0-9_.:-]{1,127}$/.test(queue)) {
    fail(`queue ${JSON.stringify(queue)} is invalid; use 1-127 letters, digits, '_', '-', '.' or ':'`);
  }
  if (!isKnownQueue(queue as string)) {
    fail(
      `unknown queue '${queue}': no node runs it and no worker declares it. ` +
        `Add it to \`queues\` in ObanModule.forRoot() (or OBAN_QUEUES) on the nodes that should run it`,
    );
  }

  const priority = options.priority ?? meta?.priority ?? 0;
  if (!Number.isInteger(priority) || priority < 0 || priority > 9) {
    fail(`priority must be an integer from 0 (highest) to 9, got ${String(priority)}`);
  }
  const maxAttempts = options.maxAttempts ?? meta?.maxAttempts ?? 20;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    fail(`maxAttempts must be an integer >= 1, got ${String(maxAttempts)}`);
  }

  const tags = [...(meta?.tags ?? []), ...(options.tags ?? [])];
  if (options.tags !== undefined && (!Array.isArray(options.tags) || options.tags.some((t) => typeof t !== 'string'))) {
    fail(`tags must be an array of strings`);
  }
  const jobMeta = options.meta ?? {};
  if (!isPlainObject(jobMeta)) fail(`meta must be a plain object of JSON values`);
  const metaProblem = findNonJson(jobMeta, 'meta');
  if (metaProblem) fail(metaProblem);

  const row: InsertRow = {
    queue: queue as string,
    worker: worker.name,
    args: args as Record<string, unknown>,
    meta: jobMeta,
    tags: [...new Set(tags.map((t) => t.trim()).filter((t) => t !== ''))],
    max_attempts: maxAttempts,
    priority,
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
    if (typeof options.scheduleIn !== 'number' || !Number.isFinite(options.scheduleIn) || options.scheduleIn < 0) {
      fail(`scheduleIn must be a number of seconds >= 0, got ${String(options.scheduleIn)}`);
    }
    row.schedule_in = options.scheduleIn;
  }
  return row;
}
