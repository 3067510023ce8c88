import type { Logger } from '@nestjs/common';
import type { AckRow, PgJobStore } from '../store/pg-job-store';
import { storableText } from '../json';
import { Retry } from '../util/retry';

const MAX_BATCH = 2_000;
/** A batch's JSON stays well under what one statement parameter can carry (1 GB in Postgres). */
const MAX_BATCH_BYTES = 64 * 1024 * 1024;

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
  /** The rows of the write under way. */
  private writingRows: AckRow[] = [];
  private readonly retry: Retry;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: PgJobStore,
    private readonly logger: Logger,
    /** Told of the queues where a written outcome made a job available again. */
    private readonly onAvailable: (queues: Set<string>) => void = () => undefined,
    /**
     * Whether other nodes may be waiting for a slot of `queue` to free (it has
     * a global limit): its written outcomes then wake the queue on every node.
     */
    private readonly wakesOtherNodes: (queue: string) => boolean = () => false,
  ) {
    this.retry = new Retry('recording job outcomes', logger);
  }

  ack(row: AckRow): void {
    this.pending.push(row);
    this.schedule();
  }

  /** Jobs whose outcome is not written yet (pending, or in the write under way). */
  heldJobIds(): number[] {
    return [...this.pending, ...this.writingRows].map((row) => row.id);
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
    const batch = this.pending.splice(0, batchLength(this.pending));
    if (batch.length === 0) return Promise.resolve();
    this.writingRows = batch;
    this.writing = this.writeRows(batch).then(
      (written) => {
        this.writing = undefined;
        this.writingRows = [];
        this.retry.succeeded();
        const available = new Set(written.filter((row) => row.state === 'available').map((row) => row.queue));
        if (available.size > 0) this.onAvailable(available);
        if (this.pending.length > 0) this.schedule();
      },
      (error) => {
        this.writing = undefined;
        this.writingRows = [];
        this.pending.unshift(...batch);
        this.retry.failed(error);
        throw error;
      },
    );
    return this.writing;
  }

  /**
   * Writes rows in one statement. When the database refuses the data of some
   * row, halves the batch until that row stands alone, so every other row is
   * written, and records the refusal as that attempt's failure. Rejects only
   * when the database cannot take any write (the caller retries the batch;
   * rows written already are left alone by the ack's attempt check).
   */
  private async writeRows(rows: AckRow[]): Promise<AckRow[]> {
    try {
      await this.store.ackJobs(rows, this.queuesToWake(rows));
      return rows;
    } catch (error) {
      if (!isRefusedData(error)) throw error;
      if (rows.length > 1) {
        const half = Math.ceil(rows.length / 2);
        return [...(await this.writeRows(rows.slice(0, half))), ...(await this.writeRows(rows.slice(half)))];
      }
      const refused = rows[0];
      const message = `the database refused to record its outcome (${refused.state}): ${(error as Error).message}`;
      this.logger.error(`job ${refused.id}: ${message}; recording that as a failed attempt`);
      const fallback = refusedOutcome(refused, message);
      try {
        await this.store.ackJobs([fallback], this.queuesToWake([fallback]));
        return [fallback];
      } catch (again) {
        if (!isRefusedData(again)) throw again;
        // Left executing; this node's reconciliation of its executing rows puts it back.
        this.logger.error(`job ${refused.id}: recording the refusal failed too: ${(again as Error).message}`);
        return [];
      }
    }
  }

  private queuesToWake(rows: AckRow[]): string[] {
    // Each distinct queue asked once: a batch holds up to MAX_BATCH rows, mostly of a few queues.
    return [...new Set(rows.map((row) => row.queue))].filter((queue) => this.wakesOtherNodes(queue));
  }

  private retryLater(): void {
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.schedule();
    }, this.retry.delay());
    this.retryTimer.unref();
  }
}

/** Errors about the data of a row (classes 22 data exception, 23 constraint, 54 limit), not about reaching the database. */
function isRefusedData(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && /^(22|23|54)/.test(code);
}

/** The failed attempt that replaces an outcome the database refused: retried later, its own data dropped. */
function refusedOutcome(row: AckRow, message: string): AckRow {
  const error = {
    attempt: row.attempt,
    at: new Date().toISOString(),
    error: `OutcomeNotStorableError: ${storableText(message)}`,
  };
  return {
    id: row.id,
    queue: row.queue,
    attempt: row.attempt,
    state: 'retryable',
    attempt_change: 0,
    delay_ms: 60_000,
    error,
  };
}

/** How many pending rows the next batch takes: at most MAX_BATCH rows and about MAX_BATCH_BYTES of JSON. */
function batchLength(pending: AckRow[]): number {
  let bytes = 0;
  const limit = Math.min(pending.length, MAX_BATCH);
  for (let i = 0; i < limit; i++) {
    const row = pending[i];
    // Results and errors are the only parts that grow; the rest is a few dozen bytes.
    bytes +=
      100 +
      (row.result == null ? 0 : JSON.stringify(row.result).length) +
      (row.error ? JSON.stringify(row.error).length : 0);
    if (bytes > MAX_BATCH_BYTES && i > 0) return i;
  }
  return limit;
}
