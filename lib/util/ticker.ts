import type { Logger } from '@nestjs/common';

/**
 * Runs `task` every `interval` ms (measured from the end of one run to the
 * start of the next, so runs never overlap) until stopped. A failing run is
 * logged (the first, then every 20th in a row) and the next one tries again.
 */
export class Ticker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private failures = 0;

  constructor(
    private readonly what: string,
    private readonly interval: number | (() => number),
    private readonly task: () => Promise<void>,
    private readonly logger: Logger,
  ) {}

  start(runNow = false): void {
    this.stopped = false;
    this.schedule(runNow ? 0 : undefined);
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
    const ms = delay ?? (typeof this.interval === 'function' ? this.interval() : this.interval);
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
      if (this.failures > 0) this.logger.log(`${this.what}: working again after ${this.failures} failure(s)`);
      this.failures = 0;
    } catch (error) {
      this.failures++;
      if (this.failures === 1 || this.failures % 20 === 0) {
        this.logger.error(`${this.what} failed (will retry): ${(error as Error).message}`);
      }
    }
  }
}
