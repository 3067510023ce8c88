import { type ErrorInfo, type Outcome, errorInfo } from '../../queue/outcome';
import { send } from './channel';

/**
 * Sends a job's outcome so that nothing in it can take the process down: a
 * result is already its JSON form (outcomeOfReturn made it: a `toJSON` or
 * getter that throws failed the job there), so structured clone never meets a
 * function, a class instance or a getter; an outcome that still cannot be
 * sent fails that job alone.
 */
export function sendOutcome(jobId: number, worker: string, outcome: Outcome): void {
  try {
    send({ type: 'outcome', jobId, outcome: sendable(outcome) });
  } catch (error) {
    const message = `OutcomeNotSendableError: the outcome of ${worker} job ${jobId} could not be sent to the main process: ${describe(error)}`;
    send({ type: 'outcome', jobId, outcome: { kind: 'failed', error: { message } } });
  }
}

function sendable(outcome: Outcome): Outcome {
  switch (outcome.kind) {
    case 'failed':
    case 'discarded':
      return { kind: outcome.kind, error: plainError(outcome.error) };
    default:
      return outcome;
  }
}

/** Only strings, whatever the error object held. */
function plainError(error: ErrorInfo): ErrorInfo {
  const plain: ErrorInfo = { message: String(error.message) };
  if (typeof error.stack === 'string') plain.stack = error.stack;
  return plain;
}

function describe(error: unknown): string {
  try {
    return errorInfo(error).message;
  } catch {
    return 'an error that cannot be read';
  }
}
