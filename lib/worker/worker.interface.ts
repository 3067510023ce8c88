import type { Job, JobArgs } from '../job';
import type { JobCancel, JobSnooze } from '../snooze-cancel';

/** What `perform` receives besides the job. */
export interface PerformContext {
  /**
   * Aborted when the attempt must stop: its timeout passed, the job was
   * cancelled, or the node is shutting down past its grace period. Pass it to
   * fetch/DB calls or check `signal.aborted` in long loops.
   */
  signal: AbortSignal;
}

/**
 * A class decorated with `@Worker()`. Return a value to complete the job (the
 * value is kept as its `result`), throw to fail the attempt, or return/throw
 * `snooze(seconds)` / `cancel(reason)`.
 */
export interface ObanWorker<Args = JobArgs, Result = unknown> {
  perform(
    job: Job<Args, Result>,
    context: PerformContext,
  ): Promise<Result | JobSnooze | JobCancel> | Result | JobSnooze | JobCancel;
  /** Seconds to wait before the next attempt after a failure; overrides the decorator's `backoff`. */
  backoff?(job: Job<Args, Result>): number;
  /** Milliseconds one attempt may run; overrides the decorator's `timeout`. */
  timeout?(job: Job<Args, Result>): number;
}

export type WorkerClass = abstract new (...args: any[]) => ObanWorker<any, any>;
