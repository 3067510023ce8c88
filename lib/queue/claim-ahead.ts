/**
 * How far a producer claims ahead of its free slots. A queue of short jobs
 * runs through a claim of `limit` jobs faster than the next claim's round
 * trip, so it idles between claims; claiming some jobs ahead into a local
 * buffer keeps the slots busy. A queue of long jobs gains nothing from it and
 * would only hold jobs another node could start, so the buffer is sized by
 * the queue's recent rate: about `HORIZON_MS` of work, and never more than
 * `MAX_AHEAD` jobs (limit 10 and 100 ms jobs: 5 held; jobs of a second or
 * more: none, the free slots only, as without a buffer).
 */
export const HORIZON_MS = 50;
export const MAX_AHEAD = 500;
/** A job claimed ahead and not started by then goes back (a slot stayed busy far longer than the rate said). */
export const MAX_HOLD_MS = 1_000;

/** Rates are measured over windows of at least this long. */
const MIN_WINDOW_MS = 2;
/** The past's weight in the rate falls by e every this many ms: a queue that turns slow stops claiming ahead at once. */
const MEMORY_MS = 25;

export class ClaimAhead {
  /** Jobs finished per ms, smoothed over recent windows. */
  private rate = 0;
  private finished = 0;
  private windowStart = performance.now();

  /** One job of the queue finished on this node. */
  finish(): void {
    this.finished++;
  }

  /** How many jobs to hold claimed ahead of the free slots now. */
  target(): number {
    const now = performance.now();
    const elapsed = now - this.windowStart;
    if (elapsed >= MIN_WINDOW_MS) {
      const past = Math.exp(-elapsed / MEMORY_MS);
      this.rate = this.rate * past + (this.finished / elapsed) * (1 - past);
      this.finished = 0;
      this.windowStart = now;
    }
    return Math.min(MAX_AHEAD, Math.floor(this.rate * HORIZON_MS));
  }
}
