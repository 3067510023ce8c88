/**
 * Errors nest-oban raises itself. Each message names the thing that is wrong
 * (queue, worker, option, field) and, where it can, says what to do.
 */
export class ObanError extends Error {
  override name = 'ObanError';
}

/** Bad module options or worker declarations, raised while the app boots. */
export class ObanConfigError extends ObanError {
  override name = 'ObanConfigError';
}

/** Bad input to insert/insertAll or another API call; nothing was written. */
export class ObanValidationError extends ObanError {
  override name = 'ObanValidationError';
}

/**
 * Why awaiting a job (`Oban.relay` / `Oban.awaitJob`) gave no result. The job
 * itself goes on (unless `cancel: true` was asked) when the wait timed out or
 * was aborted.
 */
export class RelayError extends ObanError {
  override name = 'RelayError';
  constructor(
    message: string,
    /** The job awaited. */
    readonly jobId: number,
    /** Its state when the wait ended (`deleted`: the row is gone). */
    readonly state: string,
    /** The job's last recorded error, when it failed. */
    readonly lastError?: string,
  ) {
    super(message);
  }
}

/** The awaited job was discarded (its attempts used, or discarded by its worker). */
export class RelayDiscardedError extends RelayError {
  override name = 'RelayDiscardedError';
}

/** The awaited job was cancelled (by hand, by its worker, or as a workflow dependency failed). */
export class RelayCancelledError extends RelayError {
  override name = 'RelayCancelledError';
}

/** The awaited job was deleted before it finished, or never existed. */
export class RelayDeletedError extends RelayError {
  override name = 'RelayDeletedError';
}

/** The wait's `timeout` passed first. */
export class RelayTimeoutError extends RelayError {
  override name = 'RelayTimeoutError';
}

/** The wait's `signal` aborted first. */
export class RelayAbortedError extends RelayError {
  override name = 'RelayAbortedError';
}
