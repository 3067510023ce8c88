import type { Logger } from '@nestjs/common';
import { Retry } from './retry';

/**
 * Runs `task` every `interval` ms (measured from the end of one run to the
 * start of the next, so runs never overlap) until stopped. A failing run is
 * reported by the retry policy and the next one comes at the usual interval:
 * a periodic task is its own retry.
 */
export class Ticker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private readonly retry: Retry;

  constructor(
    what: string,
    private readonly interval: number,
    private readonly task: () => Promise<void>,
    logger: Logger,
  ) {
    this.retry = new Retry(what, logger);
  }

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  /** Runs the task soon, out of turn (e.g. on becoming leader). */
  poke(): void {
    if (this.stopped || this.running) return;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(delay?: number): void {
    clearTimeout(this.timer);
    const ms = delay ?? this.interval;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.run().finally(() => {
        this.running = undefined;
        if (!this.stopped && !this.timer) this.schedule();
      });
    }, ms);
  }

  private async run(): Promise<void> {
    try {
      await this.task();
      this.retry.succeeded();
    } catch (error) {
      this.retry.failed(error);
    }
  }
}
