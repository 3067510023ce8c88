import { Inject, Injectable, Logger } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { EntityManager } from 'typeorm';
import type { ObanConfig } from './config/config';
import type { Queryable, Statement } from './db/database';
import { ClusterEngine } from './engine/cluster-engine';
import { Engine, type InsertRow, type ListJobsFilter } from './engine/engine';
import { type InsertOptions, type JobOptions, buildInsertRow } from './engine/insert-row';
import { LiveQueues } from './engine/live-queues';
import { ObanError, ObanValidationError } from './errors';
import { JOB_STATES, type Job, type JobArgs, type JobState } from './job';
import type { NodeView, QueueState } from './node-view';
import type { JobCancel, JobSnooze } from './outcomes';
import type { PoolProcessStats } from './pool/process-pool';
import { InlineRunner } from './queue/inline';
import { OBAN_CONFIG, OBAN_NODE } from './oban.tokens';
import { type Signal, SignalBus } from './signals';
import type { ObanWorker, WorkerClass } from './worker/worker.interface';
import { WorkerRegistry } from './worker/worker-registry';

/** Key of the accessor nest-oban/testing uses to reach the engine; not part of the public API. */
export const OBAN_INTERNALS = Symbol.for('nest-oban.internals');

/** What nest-oban/testing drives. */
export interface ObanInternals {
  config: ObanConfig;
  engine: Engine;
  registry: WorkerRegistry;
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
  private readonly inline: InlineRunner | undefined;
  private readonly liveQueues: LiveQueues;

  constructor(
    @Inject(OBAN_CONFIG) private readonly config: ObanConfig,
    @Inject(Engine) private readonly engine: Engine,
    @Inject(WorkerRegistry) private readonly registry: WorkerRegistry,
    @Inject(SignalBus) private readonly signals: SignalBus,
    @Inject(ModuleRef) private readonly moduleRef: ModuleRef,
    @Inject(ClusterEngine) private readonly cluster: ClusterEngine,
  ) {
    this.localQueues = new Set(config.queues.map((q) => q.name));
    this.liveQueues = new LiveQueues(cluster);
    if (config.testing === 'inline') this.inline = new InlineRunner(registry, config.node, new Logger('Oban'));
  }

  /** @internal */
  [OBAN_INTERNALS](): ObanInternals {
    return { config: this.config, engine: this.engine, registry: this.registry };
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
    const [row] = await this.buildRows([{ worker, args, options, where }]);
    const via = this.via(options.manager, where);
    if (this.inline) return this.inline.run(row);
    const [job] = await this.engine.insertJobs([row], via);
    return job;
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
    const rows = await this.buildRows(inputs);
    const via = this.via(options.manager, 'insertAll');
    if (this.inline) {
      const jobs: Job[] = [];
      for (const row of rows) jobs.push(await this.inline.run(row)); // in order, one at a time, as inserted
      return jobs;
    }
    return this.engine.insertJobs(rows, via);
  }

  async getJob(id: number): Promise<Job | null> {
    return this.engine.getJob(checkId(id, 'getJob'));
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
    return this.engine.listJobs(filter);
  }

  /**
   * Cancels a job that has not finished; a running one is stopped on the node
   * running it. Returns the job as it is now, or null if there is no such job.
   */
  async cancelJob(id: number): Promise<Job | null> {
    checkId(id, 'cancelJob');
    const cancelled = await this.engine.cancelJob(id);
    if (cancelled) {
      this.signals.emit({ action: 'pkill', job_id: id });
      return cancelled;
    }
    return this.engine.getJob(id);
  }

  /**
   * Runs a job again now (not when it is available or executing already),
   * giving it one more attempt if it used them all. Returns the job, or null.
   */
  async retryJob(id: number): Promise<Job | null> {
    checkId(id, 'retryJob');
    return (await this.engine.retryJob(id)) ?? this.engine.getJob(id);
  }

  /** Deletes a job; false if there was none. A running job must be cancelled first. */
  async deleteJob(id: number): Promise<boolean> {
    const { state, deleted } = await this.engine.deleteJob(checkId(id, 'deleteJob'));
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
  }

  /**
   * Validates and builds insert rows. A queue that neither this node's config
   * nor its workers know may still run on another node: only then are the
   * queues that live nodes advertise read, and the rows checked against them.
   */
  private async buildRows(
    inputs: Array<{ worker: WorkerClass | string; args: unknown; options: JobOptions; where: string }>,
  ): Promise<InsertRow[]> {
    const unknown = new Set<string>();
    const lenient = (queue: string) => {
      if (!this.isKnownQueue(queue)) unknown.add(queue);
      return true;
    };
    const rows = inputs.map((input) => this.buildRow(input, lenient));
    if (unknown.size === 0) return rows;
    // Inline testing keeps no database to ask which queues other nodes run.
    if (this.inline) return inputs.map((input) => this.buildRow(input, (queue) => this.isKnownQueue(queue)));
    const live = await this.liveQueues.get();
    if ([...unknown].every((queue) => live.has(queue))) return rows;
    // Build again, strictly, for the error message naming the job and queue.
    return inputs.map((input) => this.buildRow(input, (queue) => this.isKnownQueue(queue) || live.has(queue)));
  }

  private buildRow(
    input: { worker: WorkerClass | string; args: unknown; options: JobOptions; where: string },
    isKnownQueue: (queue: string) => boolean,
  ): InsertRow {
    const { worker, args, options, where } = input;
    if (typeof worker !== 'string' && typeof worker !== 'function') {
      throw new ObanValidationError(`${where}: worker must be a @Worker class or a worker name, got ${typeof worker}`);
    }
    const resolved = this.registry.resolve(worker, where);
    return buildInsertRow(
      resolved,
      args,
      options,
      (queue) => queue === resolved.metadata?.queue || isKnownQueue(queue),
      where,
    );
  }

  private isKnownQueue(queue: string): boolean {
    return this.localQueues.has(queue) || this.registry.declaredQueues().has(queue);
  }

  /** Checks that some node runs or some worker declares `queue`: this node's, or a live node's. */
  private async requireKnownQueue(queue: string, where: string): Promise<void> {
    if (typeof queue === 'string' && this.isKnownQueue(queue)) return;
    const live = await this.liveQueues.get();
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
