/**
 * Wall-clock time for the cron scheduler. The default is the system clock;
 * a test can provide OBAN_CLOCK with a faster one (rate > 1) to run many cron
 * minutes in a few seconds. Only cron slots are computed from it: every other
 * time nest-oban uses comes from the database.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Clock milliseconds per real millisecond; timers wait `ms / rate`. */
  readonly rate: number;
}

export const systemClock: Clock = { now: () => Date.now(), rate: 1 };

/** Optional provider token for a Clock (tests). */
export const OBAN_CLOCK = Symbol.for('nest-oban.clock');
