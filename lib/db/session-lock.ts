/**
 * A first-come, first-served lock over one database session. An embedded
 * PGlite is a single session: a transaction someone opened there must run to
 * its end before anyone else's statement, or that statement would silently
 * join the transaction.
 */
export class SessionLock {
  private tail: Promise<void> = Promise.resolve();
  private heldSince = 0;

  /**
   * @param slowWaitMs after this long waiting, `onSlowWait` is told (once per wait)
   */
  constructor(
    private readonly slowWaitMs = 5_000,
    private readonly onSlowWait: (heldForMs: number) => void = () => undefined,
  ) {}

  /** Runs `fn` once every earlier holder has finished; nobody else runs meanwhile. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** Takes the lock; the returned function gives it back (calling it twice is harmless). */
  async acquire(): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const previous = this.tail;
    this.tail = previous.then(() => mine);
    const timer = setTimeout(() => this.onSlowWait(Date.now() - this.heldSince), this.slowWaitMs);
    timer.unref();
    await previous;
    clearTimeout(timer);
    this.heldSince = Date.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
    };
  }
}
