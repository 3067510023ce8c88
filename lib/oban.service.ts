import { Inject, Injectable, Logger } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { EntityManager } from 'typeorm';
import type { ObanConfig } from './config/config';
import type { Database, Queryable, Statement } from './db/database';
import { ObanError, ObanValidationError } from './errors';
import type { InsertCall, ObanHooks } from './events/hooks';
import type { ObanEvents } from './events/oban-events';
import { JOB_STATES, type Job, type JobArgs, type JobState } from './job';
import type { NodeView, QueueState } from './node-view';
import { OBAN_INTERNALS, OBAN_JOB_STORE, OBAN_NODE } from './oban.tokens';
import type { PoolProcessStats } from './pool/protocol/stats';
import type { Signal, SignalBus } from './signals';
import type { JobCancel, JobSnooze } from './snooze-cancel';
import type { ClusterStore } from './store/cluster-store';
import type { InsertRow, JobStore, ListJobsFilter } from './store/job-store';
import type { PgJobStore } from './store/pg-job-store';
import { type InsertOptions, type JobOptions, validateJob } from './validation/job-options';
import type { ObanWorker, WorkerClass } from './worker/worker.interface';
import { WorkerRegistry } from './worker/worker-registry';

/**
 * The parts of this node the `Oban` service and nest-oban/testing work with,
 * provided as OBAN_INTERNALS (not part of the public API).
 */
export interface ObanInternals {
  config: ObanConfig;
  db: Database;
  /** `oban_jobs` itself (whatever store inserts go to), for draining. */
  jobs: PgJobStore;
  registry: WorkerRegistry;
  cluster: ClusterStore;
  signals: SignalBus;
  events: ObanEvents;
  /** The insert hook (tracing), when an integration registered one. */
  hooks?: ObanHooks;
}

/** One job to insert, as the caller gave it; `where` names it in messages. */
interface InsertInput {
  worker: WorkerClass | string;
  args: unknown;
  options: JobOptions;
  where: string;
}

/** The args a worker's perform takes. */
export type ArgsOf<W> = W extends ObanWorker<infer A, any> ? A : JobArgs;
/** What a worker's perform returns (awaited), snooze and cancel aside: the type of its jobs' `result`. */
export type ResultOf<W> = W extends { perform(...args: any[]): infer R }
  ? Exclude<Awaited<R>, JobSnooze | JobCancel>
  : unknown;

/** One entry of `insertAll`. */
export type InsertAllEntry<W extends ObanWorker<any, any> = ObanWorker<any, any>> = JobOptions & {
  worker: (abstract new (...args: any[]) => W) | string;
  args: ArgsOf<W>;
};

/**
 * The API for enqueueing and controlling jobs and queues. Inject it anywhere:
 *
 *   constructor(private readonly oban: Oban) {}
 *   await this.oban.insert(HashWorker, { rounds: 1000 }, { scheduleIn: 60 });
 */
@Injectable()
export class Oban {
  private readonly localQueues: Set<string>;
  /** Queues already warned about as run by no live node. */
  private readonly warnedQueues = new Set<string>();
  private readonly logger: Logger;
  private readonly registry: WorkerRegistry;
  private readonly events: ObanEvents;
  private readonly signals: SignalBus;
  private readonly cluster: ClusterStore;

  constructor(
    @Inject(OBAN_INTERNALS) private readonly internals: ObanInternals,
    @Inject(OBAN_JOB_STORE) private readonly store: JobStore,
    @Inject(ModuleRef) private readonly moduleRef: ModuleRef,
  ) {
    ({ registry: this.registry, signals: this.signals, cluster: this.cluster, events: this.events } = internals);
    this.logger = internals.config.logger;
    this.localQueues = new Set(internals.config.queues.map((q) => q.name));
  }

  /** @internal */
  [OBAN_INTERNALS](): ObanInternals {
    return this.internals;
  }

  /** Stores a job and returns it. With `manager`, it joins that TypeORM transaction. */
  insert<W extends ObanWorker<any, any>>(
    worker: abstract new (...args: any[]) => W,
    args: ArgsOf<W>,
    options?: InsertOptions,
  ): Promise<Job<ArgsOf<W>, ResultOf<W>>>;
  insert(worker: string, args: JobArgs, options?: InsertOptions): Promise<Job>;
  async insert(worker: WorkerClass | string, args: unknown, options: InsertOptions = {}): Promise<Job<any, any>> {
    const where = `insert(${workerLabel(worker)})`;
    const began = performance.now();
    const rows = await this.buildRows([{ worker, args, options, where }]);
    const jobs = await this.write('insert', rows, this.via(options.manager, where));
    if (this.events.has('insert')) this.emitInsert(jobs, false, began);
    return jobs[0];
  }

  /** Stores many jobs in one statement (one round trip) and returns them in input order. */
  async insertAll(entries: InsertAllEntry[], options: { manager?: EntityManager } = {}): Promise<Job[]> {
    if (!Array.isArray(entries))
      throw new ObanValidationError('insertAll: expected an array of { worker, args, ...options }');
    const inputs = entries.map((entry, i) => {
      const where = `insertAll[${i}] (${workerLabel(entry?.worker)})`;
      if (typeof entry !== 'object' || entry === null)
        throw new ObanValidationError(`${where}: expected { worker, args }`);
      const { worker, args, ...jobOptions } = entry;
      if ('manager' in jobOptions) {
        throw new ObanValidationError(`${where}: pass manager once, as insertAll(entries, { manager })`);
      }
      return { worker, args, options: jobOptions, where };
    });
    const began = performance.now();
    const rows = await this.buildRows(inputs);
    const jobs = await this.write('insertAll', rows, this.via(options.manager, 'insertAll'));
    if (this.events.has('insert')) this.emitInsert(jobs, true, began);
    return jobs;
  }

  /** Writes the rows, through the insert hook when one is registered (it may add to each row's meta). */
  private write(operation: InsertCall['operation'], rows: InsertRow[], via: Queryable | undefined): Promise<Job[]> {
    const hook = this.internals.hooks?.insert;
    const write = () => this.store.insertJobs(rows, via);
    return hook ? hook({ operation, rows }, write, (jobs) => jobs.map((j) => j.id)) : write();
  }

  private emitInsert(jobs: Job[], bulk: boolean, began: number): void {
    this.events.emit('insert', { jobs, bulk, node: this.internals.config.node, duration: performance.now() - began });
  }

  async getJob(id: number): Promise<Job | null> {
    return this.store.getJob(checkId(id, 'getJob'));
  }

  async listJobs(filter: ListJobsFilter = {}): Promise<Job[]> {
    for (const state of ([] as unknown[]).concat(filter.state ?? [])) {
      if (!JOB_STATES.includes(state as JobState)) {
        throw new ObanValidationError(
          `listJobs: unknown state ${JSON.stringify(state)} (states: ${JOB_STATES.join(', ')})`,
        );
      }
    }
    const limit = filter.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
      throw new ObanValidationError(`listJobs: limit must be a whole number from 1 to 10000, got ${String(limit)}`);
    }
    return this.store.listJobs(filter);
  }

  /**
   * Cancels a job that has not finished; a running one is stopped on the node
   * running it. Returns the job as it is now, or null if there is no such job.
   */
  async cancelJob(id: number): Promise<Job | null> {
    checkId(id, 'cancelJob');
    const cancelled = await this.store.cancelJob(id);
    if (cancelled) {
      this.signals.emit({ action: 'pkill', job_id: id });
      return cancelled;
    }
    return this.store.getJob(id);
  }

  /**
   * Runs a job again now (not when it is available or executing already),
   * giving it one more attempt if it used them all. Returns the job, or null.
   */
  async retryJob(id: number): Promise<Job | null> {
    checkId(id, 'retryJob');
    return (await this.store.retryJob(id)) ?? this.store.getJob(id);
  }

  /** Deletes a job; false if there was none. A running job must be cancelled first. */
  async deleteJob(id: number): Promise<boolean> {
    const { state, deleted } = await this.store.deleteJob(checkId(id, 'deleteJob'));
    if (state === 'executing') {
      throw new ObanError(`deleteJob(${id}): the job is executing; cancel it first (cancelJob) or wait for it`);
    }
    return deleted;
  }

  /**
   * Stops every node from starting jobs of `queue`; running jobs finish. The
   * pause is remembered (oban_queues): nodes that start later start paused.
   */
  async pauseQueue(queue: string): Promise<void> {
    await this.requireKnownQueue(queue, 'pauseQueue');
    await this.signal({ action: 'pause', queue }, { paused: true });
  }

  /** Lets every node run `queue` again (and nodes that start later). */
  async resumeQueue(queue: string): Promise<void> {
    await this.requireKnownQueue(queue, 'resumeQueue');
    await this.signal({ action: 'resume', queue }, { paused: false });
  }

  /**
   * Sets the queue's limit on every node that runs it, remembered for nodes
   * that start later (it outranks their configured limit).
   */
  async scaleQueue(queue: string, limit: number): Promise<void> {
    await this.requireKnownQueue(queue, 'scaleQueue');
    if (!Number.isInteger(limit) || limit < 1) {
      throw new ObanValidationError(`scaleQueue('${queue}'): limit must be a whole number >= 1, got ${String(limit)}`);
    }
    await this.signal({ action: 'scale', queue, limit }, { limit });
  }

  /** Whether this node is the cluster's leader (runs the lifeline, pruner and cron) now. */
  isLeader(): boolean {
    return this.node().isLeader;
  }

  /** How `queue` runs on this node (limit, paused, running jobs), or null if this node does not run it. */
  checkQueue(queue: string): QueueState | null {
    return this.node().queueState(queue);
  }

  /** This node's worker processes (pid, jobs running, resident memory); empty when cpu workers run in this process. */
  checkProcesses(): Promise<PoolProcessStats[]> {
    return this.node().poolStats();
  }

  private node(): NodeView {
    return this.moduleRef.get<NodeView>(OBAN_NODE, { strict: false });
  }

  /** Remembers the queue's new state and tells every node, in one statement; this node hears it at once. */
  private async signal(signal: Signal & { queue: string }, change: { paused?: boolean; limit?: number }) {
    await this.cluster.setQueueState(signal.queue, change, signal);
    this.signals.emit(signal);
    const { node } = this.internals.config;
    if (signal.action === 'scale') {
      if (this.events.has('queue.scale'))
        this.events.emit('queue.scale', { queue: signal.queue, node, limit: signal.limit });
    } else {
      const name = signal.action === 'pause' ? 'queue.pause' : 'queue.resume';
      if (this.events.has(name)) this.events.emit(name, { queue: signal.queue, node });
    }
  }

  /**
   * Validates each job into a row. A valid queue name is never refused: the
   * job waits durably until a node that runs its queue starts (a deploy, a
   * fleet scaled to zero). A queue no node here knows is looked up once among
   * the live nodes' queues, and a log line says when none runs it.
   */
  private async buildRows(inputs: InsertInput[]): Promise<InsertRow[]> {
    const checked = inputs.map((input) => {
      const { worker, args, options, where } = input;
      if (typeof worker !== 'string' && typeof worker !== 'function') {
        throw new ObanValidationError(
          `${where}: worker must be a @Worker class or a worker name, got ${typeof worker}`,
        );
      }
      const resolved = this.registry.resolve(worker, where);
      const row = validateJob(resolved, args, options, where);
      const known = row.queue === resolved.metadata?.queue || this.isKnownQueue(row.queue);
      return { row, where, known };
    });
    const unknown = new Set(
      checked.filter((c) => !c.known && !this.warnedQueues.has(c.row.queue)).map((c) => c.row.queue),
    );
    if (unknown.size > 0) await this.warnOfIdleQueues(unknown);
    return checked.map((c) => c.row);
  }

  /** Logs, once per queue, that no live node runs it (its jobs wait); a failed look-up only skips the warning. */
  private async warnOfIdleQueues(queues: Set<string>): Promise<void> {
    const live = await this.store.liveQueues().catch(() => undefined);
    if (!live) return;
    for (const queue of queues) {
      if (live.has(queue)) continue;
      this.warnedQueues.add(queue);
      this.logger.warn(
        `queue '${queue}': no live node runs it now; its jobs wait until a node with it in \`queues\` starts`,
      );
    }
  }

  private isKnownQueue(queue: string): boolean {
    return this.localQueues.has(queue) || this.registry.declaredQueues().has(queue);
  }

  /** Checks that some node runs or some worker declares `queue`: this node's, or a live node's. */
  private async requireKnownQueue(queue: string, where: string): Promise<void> {
    if (typeof queue === 'string' && this.isKnownQueue(queue)) return;
    const live = await this.store.liveQueues();
    if (typeof queue === 'string' && live.has(queue)) return;
    const known = new Set([...this.localQueues, ...this.registry.declaredQueues(), ...live]);
    throw new ObanValidationError(
      `${where}: unknown queue ${JSON.stringify(queue)}: no live node runs it and no worker here declares it; ` +
        `known queues: ${[...known].sort().join(', ') || 'none'}`,
    );
  }

  /** The Queryable an insert runs on: the transaction's when a manager is given. */
  private via(manager: EntityManager | undefined, where: string): Queryable | undefined {
    if (manager === undefined) return undefined;
    if (typeof manager?.query !== 'function') {
      throw new ObanValidationError(
        `${where}: manager must be a TypeORM EntityManager (the one your transaction callback receives)`,
      );
    }
    return {
      query: (statement: Statement | string, values?: unknown[]) =>
        manager.query(typeof statement === 'string' ? statement : statement.text, values),
    };
  }
}

function workerLabel(worker: unknown): string {
  if (typeof worker === 'string') return `'${worker}'`;
  if (typeof worker === 'function') return worker.name || 'anonymous class';
  return String(worker);
}

function checkId(id: unknown, where: string): number {
  if (!Number.isSafeInteger(id) || (id as number) < 1) {
    throw new ObanValidationError(`${where}: job id must be a positive integer, got ${String(id)}`);
  }
  return id as number;
}
