import { ObanConfigError } from '../errors';
import type { Job } from '../job';
import { type Fail, knownKeys, maxAttempts, priority, queueName, tags } from './rules';
import { type ResolvedUnique, type UniqueOptions, resolveUnique } from './unique-options';

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
  /** Make its jobs unique (`true`: the defaults); an insert's own `unique` replaces it. README, "Unique jobs". */
  unique?: UniqueOptions | boolean;
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
  unique: ResolvedUnique | undefined;
}

export const DEFAULT_QUEUE = 'default';
export const DEFAULT_MAX_ATTEMPTS = 20;

const WORKER_OPTION_KEYS = ['name', 'queue', 'maxAttempts', 'priority', 'timeout', 'backoff', 'tags', 'cpu', 'unique'];

/** Checks `@Worker()` options where the class is declared; every message names the class. */
export function resolveWorkerOptions(className: string, options: WorkerOptions = {}): ResolvedWorkerOptions {
  const fail: Fail = (message) => {
    throw new ObanConfigError(`@Worker() on ${className}: ${message}`);
  };
  knownKeys(options, WORKER_OPTION_KEYS, fail);
  const name = options.name ?? className;
  if (typeof name !== 'string' || name.trim() === '' || name.length > 127) {
    fail(`name must be a non-empty string under 128 characters, got ${JSON.stringify(name)}`);
  }
  if (options.timeout !== undefined && !(Number.isFinite(options.timeout) && options.timeout > 0)) {
    fail(`timeout must be a number of milliseconds > 0, got ${String(options.timeout)}`);
  }
  const backoff = options.backoff;
  if (backoff !== undefined && typeof backoff !== 'function' && !(Number.isFinite(backoff) && backoff >= 0)) {
    fail(`backoff must be seconds (a number >= 0) or a function of the job, got ${String(backoff)}`);
  }
  if (options.cpu !== undefined && typeof options.cpu !== 'boolean') {
    fail(`cpu must be true or false, got ${String(options.cpu)}`);
  }
  return {
    name,
    queue: queueName(options.queue ?? DEFAULT_QUEUE, fail),
    maxAttempts: maxAttempts(options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS, fail),
    priority: priority(options.priority ?? 0, fail),
    timeout: options.timeout,
    backoff,
    tags: tags(options.tags ?? [], fail),
    cpu: options.cpu ?? false,
    unique: resolveUnique(options.unique, fail),
  };
}
