/** Why an attempt was stopped from outside; carried as the AbortSignal's reason. */

/** The attempt ran past its worker's timeout. */
export class JobTimeoutError extends Error {
  override name = 'JobTimeoutError';
  constructor(worker: string, jobId: number, ms: number) {
    super(`${worker} job ${jobId} timed out after ${ms} ms`);
  }
}

/** The job was cancelled (Oban.cancelJob) while it ran. */
export class JobCancelledError extends Error {
  override name = 'JobCancelledError';
  constructor(jobId: number) {
    super(`job ${jobId} was cancelled while running`);
  }
}

/** The node shut down before the attempt finished; the job is left for rescue. */
export class ShutdownError extends Error {
  override name = 'ShutdownError';
  constructor() {
    super('the node shut down before the job finished');
  }
}
