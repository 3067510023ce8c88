import type { Logger } from '@nestjs/common';
import type { Job } from '../job';
import type { DeleteResult, InsertRow, JobStore, ListJobsFilter } from '../store/job-store';
import type { AckRow } from '../store/pg-job-store';
import type { WorkerRegistry } from '../worker/worker-registry';
import { Executor } from './executor';
import { InProcessRunner } from './job-runner';

/**
 * The JobStore of `testing: 'inline'` (Oban's Inline engine): runs a job the
 * moment it is inserted, in this process, with no database, and returns it as
 * the database would hold it after that attempt (completed with its result,
 * retryable with the error, ...). A job scheduled for later runs at once too,
 * and a failed attempt is not retried. Such jobs were never stored: their ids
 * are negative so they can't be mistaken for rows. Everything but inserting
 * goes to `stored`, the database given as `connection` (if none was, it says
 * why it cannot answer).
 */
export class InlineJobStore implements JobStore {
  private lastId = 0;

  constructor(
    private readonly registry: WorkerRegistry,
    private readonly node: string,
    private readonly logger: Logger,
    private readonly stored: JobStore,
    private readonly maxResultBytes: number,
  ) {}

  /** Runs the rows one at a time, in order, each to the end of its first attempt. */
  async insertJobs(rows: InsertRow[]): Promise<Job[]> {
    const jobs: Job[] = [];
    for (const row of rows) jobs.push(await this.run(row));
    return jobs;
  }

  getJob(id: number): Promise<Job | null> {
    return this.stored.getJob(id);
  }

  listJobs(filter: ListJobsFilter): Promise<Job[]> {
    return this.stored.listJobs(filter);
  }

  cancelJob(id: number): Promise<Job | null> {
    return this.stored.cancelJob(id);
  }

  retryJob(id: number): Promise<Job | null> {
    return this.stored.retryJob(id);
  }

  deleteJob(id: number): Promise<DeleteResult> {
    return this.stored.deleteJob(id);
  }

  /** No queue runs anywhere in inline testing: only this node's queues and workers count. */
  async liveQueues(): Promise<ReadonlySet<string>> {
    return new Set();
  }

  private async run(row: InsertRow): Promise<Job> {
    const now = new Date();
    const job: Job = {
      id: --this.lastId,
      state: 'executing',
      queue: row.queue,
      worker: row.worker,
      // What perform would read back from jsonb: Dates as strings, undefined dropped.
      args: JSON.parse(JSON.stringify(row.args)),
      meta: JSON.parse(JSON.stringify(row.meta)),
      tags: row.tags,
      errors: [],
      result: null,
      attempt: 1,
      maxAttempts: row.max_attempts,
      priority: row.priority,
      insertedAt: now,
      scheduledAt: now,
      attemptedAt: now,
      attemptedBy: [this.node],
      completedAt: null,
      discardedAt: null,
      cancelledAt: null,
    };
    let outcome: AckRow | undefined;
    const sink = { ack: (row: AckRow) => (outcome = row) };
    const executor = new Executor(
      this.registry,
      sink,
      new InProcessRunner(),
      undefined,
      this.node,
      this.logger,
      this.maxResultBytes,
    );
    await executor.execute(job);
    return outcome ? applyOutcome(job, outcome) : job;
  }
}

/** The row `ackJobs` would leave, computed in memory. */
function applyOutcome(job: Job, ack: AckRow): Job {
  const at = new Date();
  const done: Job = { ...job, state: ack.state, attempt: job.attempt + ack.attempt_change };
  if (ack.delay_ms !== undefined) done.scheduledAt = new Date(at.getTime() + ack.delay_ms);
  if (ack.state === 'completed') done.completedAt = at;
  if (ack.state === 'discarded') done.discardedAt = at;
  if (ack.state === 'cancelled') done.cancelledAt = at;
  if (ack.error !== undefined) done.errors = [...job.errors, ack.error as Job['errors'][number]];
  if (ack.meta !== undefined) done.meta = { ...job.meta, ...ack.meta };
  done.result = ack.result === undefined ? null : JSON.parse(JSON.stringify(ack.result));
  return done;
}
