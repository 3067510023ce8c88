import type { Job, JobError } from '../job';
import { findNonJson, storableText } from '../json';
import { isCancel, isSnooze } from '../snooze-cancel';
import type { AckRow } from '../store/pg-job-store';
import { MAX_DELAY_SECONDS } from '../validation/rules';

/*
 * The life of one attempt's result: what `perform` returned or threw becomes
 * an Outcome (in the main process or a pool process alike), and an Outcome
 * becomes the AckRow the acker writes.
 */

/** What happened to one attempt, before it is written as an AckRow. */
export type Outcome =
  /** `bytes`: the size of the result's JSON, when outcomeOfReturn already made it. */
  | { kind: 'completed'; result: unknown; bytes?: number }
  /** Retry after the worker's backoff, or discard when no attempt is left. */
  | { kind: 'failed'; error: ErrorInfo }
  | { kind: 'snoozed'; seconds: number }
  | { kind: 'cancelled'; reason: string }
  /** Discard now whatever attempts are left (e.g. the worker is unknown). */
  | { kind: 'discarded'; error: ErrorInfo }
  /** Put back as available without charging the attempt (its process was stopped for another job). */
  | { kind: 'released'; reason: string };

export interface ErrorInfo {
  /** `Name: message`. */
  message: string;
  stack?: string;
}

/**
 * Classifies what `perform` returned or threw. Shared by the main process and
 * the worker processes, so both read snooze/cancel and bad results alike. A
 * completed result is kept in its JSON form, what the database stores: a
 * `toJSON` or getter runs here, once, and if it throws, the attempt fails.
 */
export function outcomeOfReturn(value: unknown, worker: string): Outcome {
  if (isSnooze(value)) return snoozed(value.seconds);
  if (isCancel(value)) return { kind: 'cancelled', reason: value.reason };
  if (value === undefined || value === null) return { kind: 'completed', result: null };
  const notStorable = (problem: string): Outcome => ({
    kind: 'failed',
    error: { message: `ResultNotJsonError: ${worker}.perform returned a value nest-oban cannot store: ${problem}` },
  });
  const problem = findNonJson(value, 'result');
  if (problem) return notStorable(problem);
  if (typeof value !== 'object') return { kind: 'completed', result: value };
  let json: string;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    const thrown = errorInfo(error).message;
    return notStorable(`turning it into JSON (which calls its toJSON methods and getters) threw ${thrown}`);
  }
  const result = JSON.parse(json);
  // A toJSON may have produced what the first check could not see.
  const inJson = findNonJson(result, 'result');
  return inJson ? notStorable(inJson) : { kind: 'completed', result, bytes: Buffer.byteLength(json) };
}

export function outcomeOfError(error: unknown): Outcome {
  if (isSnooze(error)) return snoozed(error.seconds);
  if (isCancel(error)) return { kind: 'cancelled', reason: error.reason };
  return { kind: 'failed', error: errorInfo(error) };
}

/** A snooze, unless it is longer than nest-oban schedules: then the attempt fails saying so. */
function snoozed(seconds: number): Outcome {
  if (seconds <= MAX_DELAY_SECONDS) return { kind: 'snoozed', seconds };
  return {
    kind: 'failed',
    error: {
      message: `InvalidSnoozeError: snooze(${seconds}) is longer than ${MAX_DELAY_SECONDS} s (100 years), which nest-oban does not schedule`,
    },
  };
}

export function errorInfo(error: unknown): ErrorInfo {
  if (error instanceof Error) {
    return { message: `${error.name}: ${error.message}`, stack: error.stack };
  }
  if (typeof error === 'object' && error !== null && typeof (error as any).message === 'string') {
    const e = error as { name?: string; message: string; stack?: string };
    return { message: `${e.name ?? 'Error'}: ${e.message}`, stack: e.stack };
  }
  return { message: `Thrown value: ${safeString(error)}` };
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    return String(value);
  }
}

/** An error as `errors` keeps it; its text made storable (a NUL or lone surrogate becomes U+FFFD). */
function jobError(job: Job, info: ErrorInfo): JobError {
  const error: JobError = { attempt: job.attempt, at: new Date().toISOString(), error: storableText(info.message) };
  if (info.stack) error.stack = storableText(info.stack);
  return error;
}

/**
 * Turns an outcome into the row `ackJobs` writes; `backoffSeconds` is used for
 * a retry, `startedMs` (when the attempt started, epoch ms) becomes `attempted_at`.
 */
export function toAckRow(job: Job, outcome: Outcome, backoffSeconds = 0, startedMs?: number): AckRow {
  if (outcome.kind === 'completed') {
    // The row of nearly every attempt, built as one literal: spreading `base` into it showed as 6% of a
    // drain's worker-process profile.
    return {
      id: job.id,
      queue: job.queue,
      attempt: job.attempt,
      started_ms: startedMs,
      state: 'completed',
      attempt_change: 0,
      result: outcome.result ?? null,
    };
  }
  // One shape for every row (started_ms undefined is left out of the JSON).
  const base = { id: job.id, queue: job.queue, attempt: job.attempt, started_ms: startedMs };
  switch (outcome.kind) {
    case 'failed':
      return job.attempt >= job.maxAttempts
        ? { ...base, state: 'discarded', attempt_change: 0, error: jobError(job, outcome.error) }
        : {
            ...base,
            state: 'retryable',
            attempt_change: 0,
            delay_ms: Math.max(0, backoffSeconds * 1000),
            error: jobError(job, outcome.error),
          };
    case 'snoozed':
      return {
        ...base,
        state: 'scheduled',
        attempt_change: -1,
        delay_ms: outcome.seconds * 1000,
        meta: { snoozed: Number(job.meta.snoozed ?? 0) + 1 },
      };
    case 'cancelled':
      return {
        ...base,
        state: 'cancelled',
        attempt_change: 0,
        error: jobError(job, { message: `JobCancel: ${outcome.reason}` }),
      };
    case 'discarded':
      return { ...base, state: 'discarded', attempt_change: 0, error: jobError(job, outcome.error) };
    case 'released':
      return { ...base, state: 'available', attempt_change: -1 };
  }
}
