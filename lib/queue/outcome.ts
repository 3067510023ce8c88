import type { Job, JobError } from '../job';
import { findNonJson } from '../json';
import { isCancel, isSnooze } from '../snooze-cancel';
import type { AckRow } from '../store/pg-job-store';

/*
 * The life of one attempt's result: what `perform` returned or threw becomes
 * an Outcome (in the main process or a pool process alike), and an Outcome
 * becomes the AckRow the acker writes.
 */

/** What happened to one attempt, before it is written as an AckRow. */
export type Outcome =
  | { kind: 'completed'; result: unknown }
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
 * the worker processes, so both read snooze/cancel and bad results alike.
 */
export function outcomeOfReturn(value: unknown, worker: string): Outcome {
  if (isSnooze(value)) return { kind: 'snoozed', seconds: value.seconds };
  if (isCancel(value)) return { kind: 'cancelled', reason: value.reason };
  const result = value === undefined ? null : value;
  const problem = findNonJson(result, 'result');
  if (problem) {
    return {
      kind: 'failed',
      error: { message: `ResultNotJsonError: ${worker}.perform returned a value nest-oban cannot store: ${problem}` },
    };
  }
  return { kind: 'completed', result };
}

export function outcomeOfError(error: unknown): Outcome {
  if (isSnooze(error)) return { kind: 'snoozed', seconds: error.seconds };
  if (isCancel(error)) return { kind: 'cancelled', reason: error.reason };
  return { kind: 'failed', error: errorInfo(error) };
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

function jobError(job: Job, info: ErrorInfo): JobError {
  const error: JobError = { attempt: job.attempt, at: new Date().toISOString(), error: info.message };
  if (info.stack) error.stack = info.stack;
  return error;
}

/** Turns an outcome into the row `ackJobs` writes; `backoffSeconds` is used for a retry. */
export function toAckRow(job: Job, outcome: Outcome, backoffSeconds = 0): AckRow {
  const base = { id: job.id, queue: job.queue, attempt: job.attempt };
  switch (outcome.kind) {
    case 'completed':
      return { ...base, state: 'completed', attempt_change: 0, result: outcome.result ?? null };
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
