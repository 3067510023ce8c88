import { ObanConfigError } from '../errors';
import type { Job } from '../job';

export interface WorkerOptions {
  /** Name stored in `oban_jobs.worker`; defaults to the class name. Keep it stable across renames. */
  name?: string;
  /** Queue the worker's jobs go to unless an insert says otherwise. Default `'default'`. */
  queue?: string;
  /** Attempts before a failing job is discarded. Default 20. */
  maxAttempts?: number;
  /** 0 (highest) to 9. Default 0. */
  priority?: number;
  /** Milliseconds one attempt may run before it fails. Default: no limit. */
  timeout?: number;
  /** Seconds before a retry: a number, or a function of the job. Default: exponential with jitter. */
  backoff?: number | ((job: Job<any>) => number);
  /** Tags added to every job of this worker. */
  tags?: string[];
  /** Run in the pool of worker processes instead of the main process (CPU-heavy work). */
  cpu?: boolean;
}

/** Options after defaults and validation; what the rest of the library reads. */
export interface ResolvedWorkerOptions {
  name: string;
  queue: string;
  maxAttempts: number;
  priority: number;
  timeout: number | undefined;
  backoff: number | ((job: Job<any>) => number) | undefined;
  tags: string[];
  cpu: boolean;
}

export const DEFAULT_QUEUE = 'default';
export const DEFAULT_MAX_ATTEMPTS = 20;

export function resolveWorkerOptions(className: string, options: WorkerOptions = {}): ResolvedWorkerOptions {
  const where = `@Worker() on ${className}`;
  const fail = (message: string): never => {
    throw new ObanConfigError(`${where}: ${message}`);
  };
  const known = new Set(['name', 'queue', 'maxAttempts', 'priority', 'timeout', 'backoff', 'tags', 'cpu']);
  for (const key of Object.keys(options)) {
    if (!known.has(key)) fail(`unknown option '${key}' (known: ${[...known].join(', ')})`);
  }
  const name = options.name ?? className;
  if (typeof name !== 'string' || name.trim() === '' || name.length > 127) {
    fail(`name must be a non-empty string under 128 characters, got ${JSON.stringify(name)}`);
  }
  const queue = options.queue ?? DEFAULT_QUEUE;
  checkQueueName(queue, where);
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    fail(`maxAttempts must be an integer >= 1, got ${String(maxAttempts)}`);
  }
  const priority = options.priority ?? 0;
  if (!Number.isInteger(priority) || priority < 0 || priority > 9) {
    fail(`priority must be an integer from 0 (highest) to 9, got ${String(priority)}`);
  }
  if (options.timeout !== undefined && !(Number.isFinite(options.timeout) && options.timeout > 0)) {
    fail(`timeout must be a number of milliseconds > 0, got ${String(options.timeout)}`);
  }
  const backoff = options.backoff;
  if (backoff !== undefined && typeof backoff !== 'function' && !(Number.isFinite(backoff) && backoff >= 0)) {
    fail(`backoff must be seconds (a number >= 0) or a function of the job, got ${String(backoff)}`);
  }
  const tags = options.tags ?? [];
  if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string')) {
    fail(`tags must be an array of strings`);
  }
  if (options.cpu !== undefined && typeof options.cpu !== 'boolean') {
    fail(`cpu must be true or false, got ${String(options.cpu)}`);
  }
  return {
    name,
    queue,
    maxAttempts,
    priority,
    timeout: options.timeout,
    backoff,
    tags,
    cpu: options.cpu ?? false,
  };
}

/** Queue names end up in NOTIFY payloads and log lines: keep them simple. */
export function checkQueueName(queue: unknown, where: string): asserts queue is string {
  if (typeof queue !== 'string' || !/^[A-Za-z0-9_.:-]{1,127}$/.test(queue)) {
    throw new ObanConfigError(
      `${where}: queue name ${JSON.stringify(queue)} is invalid; use 1-127 letters, digits, '_', '-', '.' or ':'`,
    );
  }
}
