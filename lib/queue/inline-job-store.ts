import type { Logger } from '@nestjs/common';
import type { InsertedJob, Job, JobState } from '../job';
import type { DeleteResult, InsertRow, JobStore, ListJobsFilter } from '../store/job-store';
import type { AckRow } from '../store/pg-job-store';
import { uniqueKey } from '../validation/unique-options';
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
 *
 * Unique jobs are honoured as the database would: a duplicate of a job run
 * earlier in this process (same key, that job now in one of its counted
 * states) is not run; the earlier job is returned with `conflict: true`,
 * after `replace`. Period buckets follow this process's clock.
 */
export class InlineJobStore implements JobStore {
  private lastId = 0;
  /** Unique jobs run so far, by key, as they ended, with the states that count. */
  private readonly uniqueJobs = new Map<string, { job: Job; states: JobState[] }>();

  constructor(
    private readonly registry: WorkerRegistry,
    private readonly node: string,
    private readonly logger: Logger,
    private readonly stored: JobStore,
    private readonly maxResultBytes: number,
  ) {}

  /** Runs the rows one at a time, in order, each to the end of its first attempt. */
  async insertJobs(rows: InsertRow[]): Promise<InsertedJob[]> {
    const jobs: InsertedJob[] = [];
    for (const row of rows) jobs.push(row.unique_base === undefined ? await this.run(row) : await this.runUnique(row));
    return jobs;
  }

  private async runUnique(row: InsertRow): Promise<InsertedJob> {
    const now = Date.now();
    const due = row.scheduled_at ? Date.parse(row.scheduled_at) : now + (row.schedule_in ?? 0) * 1000;
    const key = uniqueKey(row.unique_base!, row.unique_period ?? null, row.unique_by_scheduled ? due : now);
    const held = this.uniqueJobs.get(key);
    if (held && held.states.includes(held.job.state)) {
      const replaced = replaceFields(held.job, row, held.job.state);
      held.job = replaced;
      return { ...replaced, conflict: true };
    }
    const job = await this.run(row);
    this.uniqueJobs.set(key, { job, states: row.unique_states ?? [] });
    return { ...job, conflict: false };
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

/** What a conflicting insert's `replace` leaves of a stored job in `state`. */
function replaceFields(job: Job, row: InsertRow, state: JobState): Job {
  const columns = row.unique_replace?.[state] ?? [];
  if (columns.length === 0) return job;
  const sent = JSON.parse(JSON.stringify(row)) as InsertRow;
  const next: Job = { ...job };
  if (columns.includes('args')) next.args = sent.args;
  if (columns.includes('meta')) next.meta = sent.meta;
  if (columns.includes('tags')) next.tags = sent.tags;
  if (columns.includes('priority')) next.priority = sent.priority;
  if (columns.includes('max_attempts')) next.maxAttempts = Math.max(sent.max_attempts, job.attempt);
  if (columns.includes('queue')) next.queue = sent.queue;
  if (columns.includes('scheduled_at')) {
    next.scheduledAt = sent.scheduled_at
      ? new Date(sent.scheduled_at)
      : new Date(Date.now() + (sent.schedule_in ?? 0) * 1000);
  }
  return next;
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
