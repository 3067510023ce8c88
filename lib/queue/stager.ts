import type { Logger } from '@nestjs/common';
import type { Engine } from '../engine/engine';

const STAGE_LIMIT = 5_000;

/**
 * Every `interval` ms: makes due scheduled/retryable jobs available (waking
 * their queues on all nodes) and tells this node's producers which of their
 * queues have available jobs. That second part is the poll that covers for
 * lost notifications, at one query per node per interval whatever the number
 * of queues.
 */
export class Stager {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private failures = 0;

  constructor(
    private readonly engine: Engine,
    private readonly interval: number,
    private readonly localQueues: () => string[],
    private readonly wake: (queue: string) => void,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.schedule();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Stages now (also used by tests and by drain helpers). */
  async stage(): Promise<void> {
    try {
      const queues = await this.engine.stageJobs(STAGE_LIMIT, this.localQueues());
      this.failures = 0;
      for (const queue of queues) this.wake(queue);
    } catch (error) {
      this.failures++;
      if (this.failures === 1 || this.failures % 30 === 0) {
        this.logger.error(`staging scheduled jobs failed (will retry): ${(error as Error).message}`);
      }
    }
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.running = this.stage().finally(() => {
        this.running = undefined;
        if (this.timer) this.schedule();
      });
    }, this.interval);
  }
}
