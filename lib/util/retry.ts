import type { Logger } from '@nestjs/common';

export interface RetryPolicy {
  /** Delay after the first failure, in ms; it doubles with each failure in a row. */
  baseMs: number;
  /** Longest delay, in ms. */
  maxMs: number;
  /** After the first failure, every Nth in a row is logged too. */
  reportEvery: number;
}

/** How nest-oban's background loops retry: quick at first, never faster than 5 s when a fault lasts. */
export const DEFAULT_RETRY: RetryPolicy = { baseMs: 100, maxMs: 5_000, reportEvery: 20 };

/**
 * The one policy of every loop that retries (claiming, recording outcomes,
 * the LISTEN connection, heartbeats, staging, cron): each failure in a row
 * doubles the delay up to a cap; the first failure is logged, then every Nth,
 * then the recovery, so a long outage neither floods the log nor goes unseen.
 */
export class Retry {
  private failuresInARow = 0;

  constructor(
    /** What is retried, as the log lines name it ("claiming jobs of queue 'mail'"). */
    private readonly what: string,
    private readonly logger: Logger,
    private readonly policy: RetryPolicy = DEFAULT_RETRY,
  ) {}

  /** Failures since the last success. */
  get failures(): number {
    return this.failuresInARow;
  }

  /** Records a failure; returns the ms to wait before trying again. */
  failed(error: unknown, level: 'error' | 'warn' = 'error'): number {
    this.failuresInARow++;
    const n = this.failuresInARow;
    if (n === 1 || n % this.policy.reportEvery === 0) {
      const message = error instanceof Error ? error.message : String(error);
      const times = n === 1 ? '' : ` (${n} times in a row)`;
      this.logger[level](`${this.what} failed${times}, will retry: ${message}`);
    }
    return this.delay();
  }

  /** Records a success; logs the recovery after failures. */
  succeeded(): void {
    if (this.failuresInARow > 0) {
      this.logger.log(`${this.what}: working again after ${this.failuresInARow} failure(s)`);
    }
    this.failuresInARow = 0;
  }

  /** The wait before the next try: 0 before any failure, else doubling from `baseMs` up to `maxMs`. */
  delay(): number {
    if (this.failuresInARow === 0) return 0;
    return Math.min(this.policy.maxMs, this.policy.baseMs * 2 ** Math.min(this.failuresInARow - 1, 30));
  }
}
