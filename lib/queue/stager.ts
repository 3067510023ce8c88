import type { Logger } from '@nestjs/common';
import type { PgJobStore } from '../store/pg-job-store';
import { Ticker } from '../util/ticker';

const STAGE_LIMIT = 5_000;

/**
 * Every `interval` ms: makes due scheduled/retryable jobs available (waking
 * their queues on all nodes) and tells this node's producers which of their
 * queues have available jobs. That second part is the poll that covers for
 * lost notifications, at one query per node per interval whatever the number
 * of queues.
 */
export class Stager {
  private readonly ticker: Ticker;

  constructor(
    store: PgJobStore,
    interval: number,
    localQueues: () => string[],
    wake: (queue: string) => void,
    logger: Logger,
  ) {
    this.ticker = new Ticker(
      'staging scheduled jobs',
      interval,
      async () => {
        for (const queue of await store.stageJobs(STAGE_LIMIT, localQueues())) wake(queue);
      },
      logger,
    );
  }

  start(): void {
    this.ticker.start();
  }

  stop(): Promise<void> {
    return this.ticker.stop();
  }
}
