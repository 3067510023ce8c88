/**
 * Unique jobs: the `unique` option of `@Worker()` and of each insert, checked
 * into a ResolvedUnique, and the identity a job's unique key is hashed from.
 *
 * Two jobs conflict when they have the same unique options, the same values
 * of the fields those name, the same period bucket (epoch-aligned), and the
 * job already stored is in one of its counted states. The database decides:
 * a unique index over the keys of jobs in a counted state (migrations/v3.ts).
 */
import { createHash } from 'node:crypto';
import { JOB_STATES, type JobState } from '../job';
import { describe } from './option-checks';
import { type Fail, MAX_DELAY_SECONDS, knownKeys } from './rules';

/** The job fields a key may cover. */
export const UNIQUE_FIELDS = ['worker', 'queue', 'args', 'meta'] as const;
export type UniqueField = (typeof UNIQUE_FIELDS)[number];

/** The states a job ends in; every other state (held ones too) is incomplete. */
const FINAL: readonly JobState[] = ['completed', 'discarded', 'cancelled'];
const INCOMPLETE: readonly JobState[] = JOB_STATES.filter((s) => !FINAL.includes(s));

/** Named sets of counted states. */
export const UNIQUE_STATE_GROUPS: Record<'incomplete' | 'successful' | 'all', readonly JobState[]> = {
  /** Not finished yet: scheduled, available, executing, retryable (and any held state). */
  incomplete: INCOMPLETE,
  /** Not finished, or finished well. */
  successful: [...INCOMPLETE, 'completed'],
  all: JOB_STATES,
};
export type UniqueStateGroup = keyof typeof UNIQUE_STATE_GROUPS;

/** The fields of a stored job that a conflicting insert may overwrite (`replace`). */
export const REPLACE_FIELDS = ['args', 'meta', 'tags', 'priority', 'maxAttempts', 'queue', 'scheduledAt'] as const;
export type ReplaceField = (typeof REPLACE_FIELDS)[number];

/** The columns behind REPLACE_FIELDS, as the unique insert statement names them. */
export const REPLACE_COLUMNS: Record<ReplaceField, string> = {
  args: 'args',
  meta: 'meta',
  tags: 'tags',
  priority: 'priority',
  maxAttempts: 'max_attempts',
  queue: 'queue',
  scheduledAt: 'scheduled_at',
};

export interface UniqueOptions {
  /** Which fields make two jobs the same. Default `['worker', 'queue', 'args']`. */
  fields?: UniqueField[];
  /** Compare only these keys of `args` (and of `meta`, when `fields` names it). Default: all keys. */
  keys?: string[];
  /** Seconds: jobs conflict within the same epoch-aligned window of this length. `Infinity`: forever. Default 60. */
  period?: number;
  /** The states in which a stored job blocks a duplicate: a group or a list. Default `'successful'`. */
  states?: UniqueStateGroup | JobState[];
  /** Which time falls into the period window. Default `'insertedAt'`. */
  timestamp?: 'insertedAt' | 'scheduledAt';
  /**
   * Per state of the stored job, the fields a conflicting insert overwrites
   * with its own, e.g. `{ scheduled: ['args', 'scheduledAt'] }` (debounce).
   * Default: none (the stored job is returned as it is).
   */
  replace?: Partial<Record<JobState, ReplaceField[]>>;
}

/** `unique` after defaults and checks; what the insert path reads. */
export interface ResolvedUnique {
  fields: UniqueField[];
  /** Sorted; null: every key. */
  keys: string[] | null;
  /** Seconds; null: Infinity. */
  period: number | null;
  /** In JOB_STATES order. */
  states: JobState[];
  timestamp: 'insertedAt' | 'scheduledAt';
  /** Null when nothing is replaced. */
  replace: Partial<Record<JobState, ReplaceField[]>> | null;
}

export const DEFAULT_UNIQUE_FIELDS: readonly UniqueField[] = ['worker', 'queue', 'args'];
export const DEFAULT_UNIQUE_PERIOD = 60;

const UNIQUE_OPTION_KEYS = ['fields', 'keys', 'period', 'states', 'timestamp', 'replace'];

/**
 * Checks a `unique` option: `true` (every default), an object of UniqueOptions,
 * or `false`/undefined (not unique). Messages start with `unique.<option>`;
 * `fail` adds the caller's prefix (the worker or the insert).
 */
export function resolveUnique(value: unknown, fail: Fail): ResolvedUnique | undefined {
  if (value === undefined || value === false) return undefined;
  const given: UniqueOptions = value === true ? {} : (value as UniqueOptions);
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    fail(`unique must be true, false or an object of unique options, got ${describe(value)}`);
  }
  knownKeys(given, UNIQUE_OPTION_KEYS, fail, { within: 'unique' });

  const fields = uniqueFields(given.fields, fail);
  const keys = uniqueKeys(given.keys, fields, fail);
  const period = uniquePeriod(given.period, fail);
  const states = uniqueStates(given.states, fail);
  const timestamp = given.timestamp ?? 'insertedAt';
  if (timestamp !== 'insertedAt' && timestamp !== 'scheduledAt') {
    fail(`unique.timestamp must be 'insertedAt' or 'scheduledAt', got ${describe(timestamp)}`);
  }
  const replace = uniqueReplace(given.replace, states, fail);
  return { fields, keys, period, states, timestamp, replace };
}

function uniqueFields(value: unknown, fail: Fail): UniqueField[] {
  if (value === undefined) return [...DEFAULT_UNIQUE_FIELDS];
  if (!Array.isArray(value) || value.length === 0) {
    fail(`unique.fields must be a non-empty array of ${UNIQUE_FIELDS.map((f) => `'${f}'`).join(', ')}`);
  }
  for (const field of value as unknown[]) {
    if (!UNIQUE_FIELDS.includes(field as UniqueField)) {
      fail(`unique.fields: unknown field ${describe(field)} (fields: ${UNIQUE_FIELDS.join(', ')})`);
    }
  }
  return UNIQUE_FIELDS.filter((f) => (value as unknown[]).includes(f));
}

function uniqueKeys(value: unknown, fields: UniqueField[], fail: Fail): string[] | null {
  if (value === undefined) return null;
  if (!Array.isArray(value) || value.length === 0 || value.some((k) => typeof k !== 'string' || k === '')) {
    fail(`unique.keys must be a non-empty array of key names (non-empty strings), got ${describe(value)}`);
  }
  if (!fields.includes('args') && !fields.includes('meta')) {
    fail(`unique.keys picks keys of args or meta, but unique.fields (${fields.join(', ')}) names neither`);
  }
  return [...new Set(value as string[])].sort();
}

function uniquePeriod(value: unknown, fail: Fail): number | null {
  if (value === undefined) return DEFAULT_UNIQUE_PERIOD;
  if (value === Infinity) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_DELAY_SECONDS) {
    fail(
      `unique.period must be a whole number of seconds from 1 to ${MAX_DELAY_SECONDS}, or Infinity, got ${describe(value)}`,
    );
  }
  return value as number;
}

/**
 * The counted states must hold every state a counted job reaches on its own:
 * a job moves among the incomplete states by staging, retries, snoozes and
 * rescue, and each final state is entered from one of them. A set missing one
 * would let a job leave the set and come back while a duplicate holds its
 * key, and staging it would then hit the unique index and stop every queue's
 * staging (oban#1416). Only a retry by hand takes a job from a final state
 * back, and it is refused when that would duplicate a job (PgJobStore.retryJob).
 */
function uniqueStates(value: unknown, fail: Fail): JobState[] {
  if (value === undefined) return uniqueStates('successful', fail);
  if (typeof value === 'string') {
    if (!(value in UNIQUE_STATE_GROUPS)) {
      fail(
        `unique.states: unknown group '${value}' (groups: ${Object.keys(UNIQUE_STATE_GROUPS).join(', ')}; or a list of states)`,
      );
    }
    const group = UNIQUE_STATE_GROUPS[value as UniqueStateGroup];
    return JOB_STATES.filter((s) => group.includes(s));
  }
  if (!Array.isArray(value) || value.length === 0) {
    fail(
      `unique.states must be 'incomplete', 'successful', 'all' or a non-empty list of states, got ${describe(value)}`,
    );
  }
  for (const state of value as unknown[]) {
    if (!JOB_STATES.includes(state as JobState)) {
      fail(`unique.states: unknown state ${describe(state)} (states: ${JOB_STATES.join(', ')})`);
    }
  }
  const missing = INCOMPLETE.filter((s) => !(value as unknown[]).includes(s));
  if (missing.length > 0) {
    fail(
      `unique.states [${(value as string[]).join(', ')}] leaves out ${missing.join(', ')}: a job moves among ` +
        `${INCOMPLETE.join(', ')} on its own (staging, retries, snoozes, rescue), so it could leave the counted ` +
        `states and come back while a duplicate holds its key, and staging would then fail on the unique index. ` +
        `Count all of them ('incomplete'), plus any of ${FINAL.join(', ')}`,
    );
  }
  return JOB_STATES.filter((s) => (value as unknown[]).includes(s));
}

function uniqueReplace(
  value: unknown,
  states: JobState[],
  fail: Fail,
): Partial<Record<JobState, ReplaceField[]>> | null {
  if (value === undefined) return null;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(`unique.replace must be an object of { state: [fields] }, e.g. { scheduled: ['args', 'scheduledAt'] }`);
  }
  const replace: Partial<Record<JobState, ReplaceField[]>> = {};
  for (const [state, fields] of Object.entries(value as object)) {
    if (!JOB_STATES.includes(state as JobState)) {
      fail(`unique.replace: unknown state '${state}' (states: ${JOB_STATES.join(', ')})`);
    }
    if (!states.includes(state as JobState)) {
      fail(
        `unique.replace.${state}: a ${state} job never conflicts, as unique.states (${states.join(', ')}) does not count it`,
      );
    }
    if (!Array.isArray(fields) || fields.length === 0) {
      fail(`unique.replace.${state} must be a non-empty array of ${REPLACE_FIELDS.join(', ')}`);
    }
    for (const field of fields as unknown[]) {
      if (!REPLACE_FIELDS.includes(field as ReplaceField)) {
        fail(`unique.replace.${state}: unknown field ${describe(field)} (fields: ${REPLACE_FIELDS.join(', ')})`);
      }
    }
    replace[state as JobState] = REPLACE_FIELDS.filter((f) => (fields as unknown[]).includes(f));
  }
  return Object.keys(replace).length > 0 ? replace : null;
}

/** The values a unique key covers, as an insert row holds them. */
export interface UniqueSubject {
  worker: string;
  queue: string;
  args: Record<string, unknown>;
  meta: Record<string, unknown>;
}

/**
 * What a job's key is hashed from (with its period bucket, see uniqueKey): the
 * sha256 (hex) of its unique options and the values of the fields they name,
 * as canonical JSON (keys sorted, values as jsonb will hold them), so equal
 * jobs give equal text whatever the key order or the node, and large args
 * are not sent twice.
 */
export function uniqueBase(unique: ResolvedUnique, job: UniqueSubject): string {
  const values: Record<string, unknown> = {};
  for (const field of unique.fields) {
    const value = field === 'worker' || field === 'queue' ? job[field] : stored(job[field]);
    values[field] = unique.keys && (field === 'args' || field === 'meta') ? pick(value, unique.keys) : value;
  }
  const { fields, keys, period, states, timestamp } = unique;
  return sha256Hex(canonicalJson({ v: 1, fields, keys, period, states, timestamp, values }));
}

/**
 * The key of a job whose period bucket is known here (the inline store). The
 * unique insert statement computes the same in SQL from the database's clock:
 * sha256 of `base`, plus `:bucket` when the period is finite, where bucket =
 * floor(epoch seconds / period).
 */
export function uniqueKey(base: string, period: number | null, atMs: number): string {
  const bucket = period === null ? '' : `:${Math.floor(atMs / 1000 / period)}`;
  return sha256Hex(base + bucket);
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** A JSON value as jsonb gives it back (Dates as strings, undefined dropped). */
function stored(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

function pick(value: unknown, keys: string[]): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  const object = value as Record<string, unknown>;
  for (const key of keys) if (Object.prototype.hasOwnProperty.call(object, key)) picked[key] = object[key];
  return picked;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}
