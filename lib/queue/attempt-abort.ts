/**
 * How one attempt is stopped (timeout, cancel, shutdown). Most jobs never
 * read their `signal`, and an AbortController with its listeners costs more
 * than a short job itself, so the AbortSignal is made only when asked for:
 * by `perform` reading `context.signal`, or after the abort.
 */
export class AttemptAbort {
  private controller: AbortController | undefined;
  private listeners: Array<() => void> = [];
  private abortReason: unknown;
  private isAborted = false;

  get aborted(): boolean {
    return this.isAborted;
  }

  get reason(): unknown {
    return this.abortReason;
  }

  /** The attempt's AbortSignal, made on first use (already aborted if the attempt was). */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.isAborted) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  /** Calls `listener` once, when the attempt is aborted. */
  onAbort(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Aborts the attempt; later calls change nothing. */
  abort(reason: unknown): void {
    if (this.isAborted) return;
    this.isAborted = true;
    this.abortReason = reason;
    this.controller?.abort(reason);
    const listeners = this.listeners;
    this.listeners = [];
    for (const listener of listeners) listener();
  }
}
