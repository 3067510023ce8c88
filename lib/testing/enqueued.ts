import { AssertionError } from 'node:assert';
import { ObanError, ObanValidationError } from '../errors';
import type { Job } from '../job';
import { isPlainObject } from '../json';
import { knownKeys } from '../validation/rules';
import type { WorkerClass } from '../worker/worker.interface';
import { type ObanTarget, internalsOf } from './target';
import { type EnqueuedFilter, TestingQueries } from './testing-queries';

/** What to look for among enqueued jobs; every field given must match. */
export interface EnqueuedMatch {
  /** The worker class or its name. */
  worker?: WorkerClass | string;
  queue?: string;
  /** Matches when the job's args contain these (a partial match: other keys may be there too). */
  args?: Record<string, unknown>;
  /** Partial match on meta, like args. */
  meta?: Record<string, unknown>;
  priority?: number;
  /** The job carries all of these tags. */
  tags?: string[];
}

export interface WaitOptions {
  /** Keep looking for this many ms (for jobs enqueued by something still running). Default 0: look once. */
  timeout?: number;
}

const SHOWN = 20;

/**
 * Jobs waiting to run (available or scheduled) that match, oldest first. In
 * `testing: 'inline'` nothing is ever enqueued (jobs run at insert), so this
 * throws rather than answer a vacuous "none".
 */
export async function allEnqueued(target: ObanTarget, match: EnqueuedMatch = {}): Promise<Job[]> {
  return find(target, match, 'allEnqueued');
}

/** A check over the enqueued jobs of the app `target`. */
type EnqueuedCheck<R> = (target: ObanTarget, match: EnqueuedMatch, options?: WaitOptions) => Promise<R>;

/** Fails unless a job matching `match` is enqueued; the message lists what is. Returns the first match. */
export const assertEnqueued: EnqueuedCheck<Job> = async (target, match, options = {}) => {
  const where = 'assertEnqueued';
  const job = await lookUntil(checkTimeout(options, where), async () => (await find(target, match, where))[0]);
  if (job) return job;
  const enqueued = await find(target, {}, where, SHOWN + 1);
  throw new AssertionError({
    message:
      `Expected a job matching ${describeMatch(match)} to be enqueued` +
      (options.timeout ? ` within ${options.timeout} ms` : '') +
      `, but none is.\n${listing('Enqueued now', enqueued)}`,
  });
};

/** Fails if a job matching `match` is enqueued (or gets enqueued within `timeout`); the message lists the matches. */
export const refuteEnqueued: EnqueuedCheck<void> = async (target, match, options = {}) => {
  const where = 'refuteEnqueued';
  const found = await lookUntil(checkTimeout(options, where), async () => {
    const jobs = await find(target, match, where, SHOWN + 1);
    return jobs.length > 0 ? jobs : undefined;
  });
  if (found) {
    throw new AssertionError({
      message: `Expected no job matching ${describeMatch(match)} to be enqueued, but found:\n${listing('Matching', found)}`,
    });
  }
};

async function find(target: ObanTarget, match: EnqueuedMatch, where: string, limit?: number): Promise<Job[]> {
  const { config, db, registry } = internalsOf(target, where);
  if (config.testing === 'inline') {
    throw new ObanError(
      `${where}: testing is 'inline', so jobs run when inserted and are never enqueued; ` +
        `assert on the job insert() returned, or use testing: 'manual' and drainQueue`,
    );
  }
  const filter: EnqueuedFilter = { limit };
  const fail = (message: string): never => {
    throw new ObanValidationError(`${where}: ${message}`);
  };
  knownKeys(match ?? {}, ['worker', 'queue', 'args', 'meta', 'priority', 'tags'], fail, { what: 'field' });
  if (match.worker !== undefined) filter.worker = registry.resolve(match.worker, where).name;
  if (match.queue !== undefined) filter.queue = match.queue;
  for (const key of ['args', 'meta'] as const) {
    const value = match[key];
    if (value === undefined) continue;
    if (!isPlainObject(value))
      throw new ObanValidationError(`${where}: ${key} must be a plain object to match against`);
    filter[key] = JSON.parse(JSON.stringify(value)); // compare with what was stored
  }
  if (match.priority !== undefined) filter.priority = match.priority;
  if (match.tags !== undefined) filter.tags = match.tags;
  return new TestingQueries(db, config.prefix).listEnqueued(filter);
}

function checkTimeout(options: WaitOptions, where: string): number {
  const timeout = options?.timeout ?? 0;
  if (!Number.isFinite(timeout) || timeout < 0) {
    throw new ObanValidationError(`${where}: timeout must be a number of ms >= 0, got ${String(timeout)}`);
  }
  return timeout;
}

function describeMatch(match: EnqueuedMatch): string {
  const parts = Object.entries(match).map(([key, value]) => {
    const shown = key === 'worker' && typeof value === 'function' ? value.name : JSON.stringify(value);
    return `${key}: ${shown}`;
  });
  return `{ ${parts.join(', ')} }`;
}

function listing(title: string, jobs: Job[]): string {
  if (jobs.length === 0) return `${title}: no jobs.`;
  const lines = jobs
    .slice(0, SHOWN)
    .map(
      (j) =>
        `  #${j.id} ${j.worker} queue=${j.queue} state=${j.state} priority=${j.priority} ` +
        `args=${JSON.stringify(j.args)}` +
        (Object.keys(j.meta).length > 0 ? ` meta=${JSON.stringify(j.meta)}` : '') +
        (j.tags.length > 0 ? ` tags=${JSON.stringify(j.tags)}` : ''),
    );
  const more = jobs.length > SHOWN ? `\n  ... and more` : '';
  return `${title} (${jobs.length > SHOWN ? `first ${SHOWN}` : jobs.length}):\n${lines.join('\n')}${more}`;
}

/** Looks at once, then every 20 ms for `timeoutMs`; returns the first thing `look` finds, or undefined. */
async function lookUntil<T>(timeoutMs: number, look: () => Promise<T | undefined>): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await look();
    if (found !== undefined || Date.now() >= deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
