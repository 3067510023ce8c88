import { findNonJson } from '../json';
import { isCancel, isSnooze } from '../outcomes';
import { type Outcome, errorInfo } from './outcome';

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
