/**
 * The rules a job's fields follow wherever they are set: `@Worker()` options,
 * insert options, crontab entries and module config all check with these, so
 * each rule and its message is written once. Each takes the value and a
 * `fail` that throws the caller's error (ObanConfigError at boot,
 * ObanValidationError on insert) with the caller's prefix.
 */
import { findUnstorable } from '../json';

export type Fail = (message: string) => never;

const QUEUE_NAME = /^[A-Za-z0-9_.:-]{1,127}$/;

/** The longest delay nest-oban schedules (a snooze, a backoff, scheduleIn): 100 years, well inside Postgres's range. */
export const MAX_DELAY_SECONDS = 100 * 365.25 * 24 * 3600;

/** The longest a Node timer waits in one go (2^31-1 ms): the bound of interval options. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Queue names end up in NOTIFY payloads and log lines: keep them simple. */
export function queueName(value: unknown, fail: Fail): string {
  if (typeof value !== 'string' || !QUEUE_NAME.test(value)) {
    fail(`queue name ${JSON.stringify(value)} is invalid; use 1-127 letters, digits, '_', '-', '.' or ':'`);
  }
  return value as string;
}

export function priority(value: unknown, fail: Fail): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 9) {
    fail(`priority must be an integer from 0 (highest) to 9, got ${String(value)}`);
  }
  return value as number;
}

export function maxAttempts(value: unknown, fail: Fail): number {
  if (!Number.isInteger(value) || (value as number) < 1) {
    fail(`maxAttempts must be an integer >= 1, got ${String(value)}`);
  }
  return value as number;
}

export function tags(value: unknown, fail: Fail): string[] {
  if (!Array.isArray(value) || value.some((t) => typeof t !== 'string')) fail(`tags must be an array of strings`);
  (value as string[]).forEach((tag, i) => {
    const problem = findUnstorable(tag, `tags[${i}]`);
    if (problem) fail(problem);
  });
  return value as string[];
}

/**
 * Fails on a key of `value` that `known` does not list, naming it and the known
 * ones: `what` says what the keys are ("option", "field") and `within` which
 * object they sit in ("pruner", "crontab[2]").
 */
export function knownKeys(
  value: object,
  known: Iterable<string>,
  fail: Fail,
  { what = 'option', within }: { what?: string; within?: string } = {},
): void {
  const set = new Set(known);
  for (const key of Object.keys(value)) {
    if (!set.has(key)) fail(`${within ? `${within}: ` : ''}unknown ${what} '${key}' (known: ${[...set].join(', ')})`);
  }
}
