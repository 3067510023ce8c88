import type { Logger } from '@nestjs/common';
import type { AckRow, PgJobStore } from '../store/pg-job-store';
import { Retry } from '../util/retry';

const MAX_BATCH = 2_000;

/**
 * Writes attempt outcomes in batches: outcomes that arrive while a write is
 * under way go out together in the next one, so under load one UPDATE (and one
 * commit) records many jobs, while an idle node still writes at once. A failed
 * write keeps its rows and retries; nothing is dropped.
 */
export class Acker {
  private pending: AckRow[] = [];
  private scheduled = false;
  private writing: Promise<void> | undefined;
  private readonly retry: Retry;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: PgJobStore,
    logger: Logger,
    /** Told of the queues where a written outcome made a job available again. */
    private readonly onAvailable: (queues: Set<string>) => void = () => undefined,
  ) {
    this.retry = new Retry('recording job outcomes', logger);
  }

  ack(row: AckRow): void {
    this.pending.push(row);
    this.schedule();
  }

  /** Writes everything pending; gives up (leaving rows for rescue) after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    while ((this.pending.length > 0 || this.writing) && Date.now() < deadline) {
      if (this.writing) await this.writing;
      else await this.write().catch(() => new Promise((r) => setTimeout(r, 100)));
    }
  }

  private schedule(): void {
    if (this.scheduled || this.writing || this.retryTimer) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.write().catch(() => this.retryLater());
    });
  }

  private write(): Promise<void> {
    const batch = this.pending.splice(0, MAX_BATCH);
    if (batch.length === 0) return Promise.resolve();
    this.writing = this.store.ackJobs(batch).then(
      () => {
        this.writing = undefined;
        this.retry.succeeded();
        const available = new Set(batch.filter((row) => row.state === 'available').map((row) => row.queue));
        if (available.size > 0) this.onAvailable(available);
        if (this.pending.length > 0) this.schedule();
      },
      (error) => {
        this.writing = undefined;
        this.pending.unshift(...batch);
        this.retry.failed(error);
        throw error;
      },
    );
    return this.writing;
  }

  private retryLater(): void {
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.schedule();
    }, this.retry.delay());
    this.retryTimer.unref();
  }
}
