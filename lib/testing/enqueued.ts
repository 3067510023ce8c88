import { AssertionError } from 'node:assert';
import type { EnqueuedFilter } from '../engine/engine';
import { ObanError, ObanValidationError } from '../errors';
import type { Job } from '../job';
import { isPlainObject } from '../json';
import type { WorkerClass } from '../worker/worker.interface';
import { type ObanTarget, internalsOf } from './target';

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

/** Fails unless a job matching `match` is enqueued; the message lists what is. Returns the first match. */
export async function assertEnqueued(
  target: ObanTarget,
  match: EnqueuedMatch,
  options: WaitOptions = {},
): Promise<Job> {
  const where = 'assertEnqueued';
  const deadline = Date.now() + checkTimeout(options, where);
  for (;;) {
    const [job] = await find(target, match, where);
    if (job) return job;
    if (Date.now() >= deadline) break;
    await sleep(20);
  }
  const enqueued = await find(target, {}, where, SHOWN + 1);
  throw new AssertionError({
    message:
      `Expected a job matching ${describeMatch(match)} to be enqueued` +
      (options.timeout ? ` within ${options.timeout} ms` : '') +
      `, but none is.\n${listing('Enqueued now', enqueued)}`,
  });
}

/** Fails if a job matching `match` is enqueued (or gets enqueued within `timeout`); the message lists the matches. */
export async function refuteEnqueued(
  target: ObanTarget,
  match: EnqueuedMatch,
  options: WaitOptions = {},
): Promise<void> {
  const where = 'refuteEnqueued';
  const deadline = Date.now() + checkTimeout(options, where);
  for (;;) {
    const found = await find(target, match, where, SHOWN + 1);
    if (found.length > 0) {
      throw new AssertionError({
        message: `Expected no job matching ${describeMatch(match)} to be enqueued, but found:\n${listing('Matching', found)}`,
      });
    }
    if (Date.now() >= deadline) return;
    await sleep(20);
  }
}

async function find(target: ObanTarget, match: EnqueuedMatch, where: string, limit?: number): Promise<Job[]> {
  const { config, engine, registry } = internalsOf(target, where);
  if (config.testing === 'inline') {
    throw new ObanError(
      `${where}: testing is 'inline', so jobs run when inserted and are never enqueued; ` +
        `assert on the job insert() returned, or use testing: 'manual' and drainQueue`,
    );
  }
  const filter: EnqueuedFilter = { limit };
  const known = new Set(['worker', 'queue', 'args', 'meta', 'priority', 'tags']);
  for (const key of Object.keys(match ?? {})) {
    if (!known.has(key))
      throw new ObanValidationError(`${where}: unknown field '${key}' (known: ${[...known].join(', ')})`);
  }
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
  return engine.listEnqueued(filter);
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
