import type { TraceCarrier } from '../events/hooks';
import type { Job } from '../job';
import type { RegisteredWorker } from '../worker/worker-registry';
import type { AttemptAbort } from './attempt-abort';
import { type Outcome, outcomeOfError, outcomeOfReturn } from './outcome';

/** Runs one attempt of a job somewhere: in this process, or in a worker process. */
export interface JobRunner {
  /**
   * True when the runner really stops a job whose signal aborts (a worker
   * process is killed): the executor then waits for it, so the job is never
   * released while its code still runs.
   */
  readonly stoppable: boolean;
  /**
   * Resolves with the attempt's outcome. When `abort` fires, the caller stops
   * waiting; a runner that can stop the work (a worker process) does so.
   * `started` is called when the job's code begins to run (for the events' timing).
   * `trace` is the context (the attempt's consumer span, when tracing) for code
   * running in another process; in this process the active context carries it.
   */
  run(
    job: Job,
    worker: RegisteredWorker,
    abort: AttemptAbort,
    started?: () => void,
    trace?: TraceCarrier,
  ): Promise<Outcome>;
}

/** Calls `perform` on the worker instance in the main process. */
export class InProcessRunner implements JobRunner {
  /** Code in this process cannot be stopped from outside; the signal asks it to stop. */
  readonly stoppable = false;

  /** @param onFailure told what `perform` threw when the attempt failed (the testing helpers rethrow it). */
  constructor(private readonly onFailure?: (thrown: unknown) => void) {}

  async run(job: Job, worker: RegisteredWorker, abort: AttemptAbort, started?: () => void): Promise<Outcome> {
    try {
      started?.();
      // The AbortSignal is made only if perform reads it.
      const context = {
        get signal() {
          return abort.signal;
        },
      };
      return outcomeOfReturn(await worker.instance.perform(job, context), worker.name);
    } catch (error) {
      const outcome = outcomeOfError(error);
      if (outcome.kind === 'failed') this.onFailure?.(error);
      return outcome;
    }
  }
}
