import { Logger } from '@nestjs/common';
import { ObanValidationError } from '../errors';
import type { Job } from '../job';
import { Executor } from '../queue/executor';
import { InProcessRunner } from '../queue/job-runner';
import type { AckRow } from '../store/pg-job-store';
import { type ObanTarget, internalsOf } from './target';
import { TestingQueries } from './testing-queries';

export interface DrainOptions {
  /** The queue to drain. */
  queue: string;
  /**
   * Also run the queue's scheduled and retryable jobs: `true` for all of them
   * whatever their time, a Date for those due by then. Default false.
   */
  withScheduled?: boolean | Date;
  /** Keep draining while jobs insert more jobs into the queue (or fail and are staged again). Default false. */
  withRecursion?: boolean;
  /** Run at most this many jobs per pass. Default: all. */
  withLimit?: number;
  /**
   * When false, the first error a job throws is thrown out of `drainQueue`
   * (after its outcome is recorded), so the test sees the real stack. Default true.
   */
  withSafety?: boolean;
}

/** How the drained jobs ended, counted by outcome. */
export interface DrainResult {
  completed: number;
  /** Failed with attempts left: `retryable`, scheduled for their backoff. */
  retryable: number;
  /** Failed on their last attempt, or their worker is unknown. */
  discarded: number;
  cancelled: number;
  snoozed: number;
}

const ALL = 1_000_000;

/**
 * Runs a queue's available jobs now, in this process, one at a time in the
 * order a queue would take them (priority, scheduled time, id), recording
 * each outcome before the next starts, like Oban.Testing's drain_queue.
 * Meant for `testing: 'manual'`, where no queue runs by itself; `cpu: true`
 * workers run in this process too.
 *
 *   await oban.insert(WelcomeEmailWorker, { userId: 1 });
 *   assert.deepEqual(await drainQueue(app, { queue: 'mail' }), { completed: 1, ... });
 */
export async function drainQueue(target: ObanTarget, options: DrainOptions): Promise<DrainResult> {
  const where = 'drainQueue';
  const { config, db, jobs: store, registry } = internalsOf(target, where);
  const { queue, withScheduled = false, withRecursion = false, withLimit = ALL, withSafety = true } = options ?? {};
  if (typeof queue !== 'string' || queue === '') {
    throw new ObanValidationError(`${where}: give the queue to drain, e.g. drainQueue(app, { queue: 'default' })`);
  }
  if (!Number.isInteger(withLimit) || withLimit < 1) {
    throw new ObanValidationError(`${where}: withLimit must be a whole number >= 1, got ${String(withLimit)}`);
  }
  if (typeof withScheduled !== 'boolean' && !(withScheduled instanceof Date)) {
    throw new ObanValidationError(`${where}: withScheduled must be true, false or a Date`);
  }

  const result: DrainResult = { completed: 0, retryable: 0, discarded: 0, cancelled: 0, snoozed: 0 };
  let thrown: unknown;
  const runner = new InProcessRunner((error) => (thrown = error));
  let recorded: AckRow | undefined;
  const executor = new Executor(
    registry,
    { ack: (row) => (recorded = row) },
    runner,
    undefined, // cpu workers too run here: a test wants the outcome, not the pool
    config.node,
    new Logger('Oban'),
    config.maxResultBytes,
  );

  const queries = new TestingQueries(db, config.prefix);
  for (;;) {
    if (withScheduled !== false) await queries.stageQueue(queue, withScheduled === true ? null : withScheduled);
    const jobs = (await store.fetchJobs(queue, withLimit, config.node)).sort(queueOrder);
    for (const job of jobs) {
      recorded = undefined;
      thrown = undefined;
      await executor.execute(job);
      const outcome = recorded as AckRow | undefined;
      if (!outcome) continue;
      await store.ackJobs([outcome]);
      count(result, outcome);
      if (!withSafety && thrown !== undefined) throw thrown;
    }
    if (!withRecursion || jobs.length === 0) return result;
  }
}

function count(result: DrainResult, ack: AckRow): void {
  if (ack.state === 'completed') result.completed++;
  else if (ack.state === 'retryable') result.retryable++;
  else if (ack.state === 'discarded') result.discarded++;
  else if (ack.state === 'cancelled') result.cancelled++;
  else if (ack.state === 'scheduled') result.snoozed++;
}

function queueOrder(a: Job, b: Job): number {
  return a.priority - b.priority || a.scheduledAt.getTime() - b.scheduledAt.getTime() || a.id - b.id;
}
