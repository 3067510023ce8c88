import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { EntityManager } from 'typeorm';
import type { ObanConfig } from './config/config';
import type { Database, Queryable, Statement } from './db/database';
import { ObanError, ObanValidationError } from './errors';
import type { InsertCall, ObanHooks } from './events/hooks';
import type { ObanEvents } from './events/oban-events';
import { FINAL_STATES, type InsertedJob, JOB_STATES, type Job, type JobArgs, type JobState } from './job';
import type { NodeView, QueueLimitsState, QueueState } from './node-view';
import type { Notifier } from './notifier/notifier';
import { OBAN_INTERNALS, OBAN_JOB_STORE, OBAN_NODE } from './oban.tokens';
import type { PoolProcessStats } from './pool/protocol/stats';
import type { Signal, SignalBus } from './signals';
import type { JobCancel, JobSnooze } from './snooze-cancel';
import type { ClusterStore } from './store/cluster-store';
import type { InsertRow, JobStore, ListJobsFilter } from './store/job-store';
import type { PgJobStore } from './store/pg-job-store';
import type { QueueLimitsChange } from './store/limited-claim';
import { LIMIT_KEYS, limitsChange } from './validation/limit-options';
import { knownKeys } from './validation/rules';
import { type InsertOptions, type JobOptions, validateJob } from './validation/job-options';
import type { ObanWorker, WorkerClass } from './worker/worker.interface';
import { WorkerRegistry } from './worker/worker-registry';
import { type AwaitOptions, Relay, settlement } from './compose/relay';
import { buildComposeStatements } from './compose/statements';
import { Workflow, workflowIdOfStep } from './compose/workflow';
import type { InsertedWorkflow, PlannedStep } from './compose/workflow';
import { type WorkflowStatus, WorkflowStore } from './compose/workflow-store';
import {
  Batch,
  type BatchCallback,
  type BatchCallbackName,
  type BatchMemberInput,
  type BatchOptions,
  type BatchStatus,
  BatchStore,
  checkBatchId,
} from './compose/batch';

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
/** What `scaleQueue` may change: the local limit and the limits across nodes (null removes one). */
export interface ScaleQueueOptions extends QueueLimitsChange {
  limit?: number;
}

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
export class Oban implements OnModuleDestroy {
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
  ): Promise<InsertedJob<ArgsOf<W>, ResultOf<W>>>;
  insert(worker: string, args: JobArgs, options?: InsertOptions): Promise<InsertedJob>;
  async insert(
    worker: WorkerClass | string,
    args: unknown,
    options: InsertOptions = {},
  ): Promise<InsertedJob<any, any>> {
    const where = `insert(${workerLabel(worker)})`;
    const began = performance.now();
    const rows = await this.buildRows([{ worker, args, options, where }]);
    const via = this.via(options.manager, where);
    const jobs = await this.write('insert', rows, via);
    if (!via) this.announce(jobs);
    if (this.events.has('insert')) this.emitInsert(jobs, false, began);
    return jobs[0];
  }

  /** Stores many jobs in one statement (one round trip) and returns them in input order. */
  async insertAll(entries: InsertAllEntry[], options: { manager?: EntityManager } = {}): Promise<InsertedJob[]> {
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
    const via = this.via(options.manager, 'insertAll');
    const jobs = await this.write('insertAll', rows, via);
    if (!via) this.announce(jobs);
    if (this.events.has('insert')) this.emitInsert(jobs, true, began);
    return jobs;
  }

  /** Writes the rows, through the insert hook when one is registered (it may add to each row's meta). */
  private write(
    operation: InsertCall['operation'],
    rows: InsertRow[],
    via: Queryable | undefined,
  ): Promise<InsertedJob[]> {
    return this.hooked(operation, rows, () => this.store.insertJobs(rows, via), jobIds);
  }

  /**
   * Runs `write` through the insert hook when one is registered: the hook may
   * add to each row's meta (a trace context) before `write` reads the rows.
   */
  private hooked<T>(
    operation: InsertCall['operation'],
    rows: InsertRow[],
    write: () => Promise<T>,
    ids: (written: T) => number[],
  ): Promise<T> {
    const hook = this.internals.hooks?.insert;
    return hook ? hook({ operation, rows }, write, ids) : write();
  }

  /**
   * Committed available jobs wake this node's producers of their queues at
   * once (other nodes hear the insert's NOTIFY). Not for an insert in the
   * caller's transaction: it is not committed yet, and the NOTIFY goes out when it is.
   */
  private announce(jobs: Job[]): void {
    let last: string | undefined;
    for (const job of jobs) {
      if (job.state !== 'available' || job.queue === last) continue;
      last = job.queue;
      this.signals.emit({ action: 'available', queue: job.queue });
    }
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
   * Inserts a job and waits for its result, from whichever node runs it:
   * resolves with what `perform` returned; rejects with RelayDiscardedError,
   * RelayCancelledError or RelayDeletedError, or RelayTimeoutError /
   * RelayAbortedError when `timeout` (default 60 s) or `signal` ends the wait
   * first (the job goes on unless `cancel: true`).
   */
  relay<W extends ObanWorker<any, any>>(
    worker: abstract new (...args: any[]) => W,
    args: ArgsOf<W>,
    options?: JobOptions & AwaitOptions,
  ): Promise<ResultOf<W>>;
  relay(worker: string, args: JobArgs, options?: JobOptions & AwaitOptions): Promise<unknown>;
  async relay(worker: WorkerClass | string, args: unknown, options: JobOptions & AwaitOptions = {}): Promise<unknown> {
    const where = `relay(${workerLabel(worker)})`;
    if (typeof options !== 'object' || options === null) {
      throw new ObanValidationError(`${where}: options must be an object of job and wait options`);
    }
    const { timeout, signal, cancel, ...jobOptions } = options;
    if ('manager' in jobOptions) {
      throw new ObanValidationError(
        `${where}: no manager: a job inserted in your transaction cannot run before it commits; ` +
          `insert it with { manager }, then awaitJob(job) after the commit`,
      );
    }
    const awaiting = { timeout, signal, cancel };
    const relayMeta = { ...(jobOptions.meta ?? {}), relay: true };
    const job = await this.insert(worker as string, args as JobArgs, { ...jobOptions, meta: relayMeta });
    return this.awaitJob(job, awaiting);
  }

  /**
   * Waits for a job (or job id) to finish, on any node, and resolves with its
   * result; rejects as `relay` does. Notified when it finishes, polled as a fallback.
   */
  awaitJob<R>(job: Job<any, R>, options?: AwaitOptions): Promise<R>;
  awaitJob(job: number, options?: AwaitOptions): Promise<unknown>;
  async awaitJob(job: Job | number, options: AwaitOptions = {}): Promise<unknown> {
    const id = checkId(typeof job === 'object' && job !== null ? job.id : job, 'awaitJob');
    // A job handed over finished (as inline testing returns it) needs no wait.
    if (typeof job === 'object' && FINAL_STATES.includes(job.state)) {
      const last = job.errors[job.errors.length - 1];
      const outcome = settlement(id, { state: job.state, worker: job.worker, result: job.result, last_error: last });
      if (outcome.ok) return outcome.result;
      throw outcome.error;
    }
    return this.relayer().wait(id, options, `awaitJob(${id})`);
  }

  /**
   * Starts a workflow: add steps (each a job, or a sub-workflow) with the
   * steps they depend on, then `insert()` them all in one statement. See
   * README "Workflows".
   */
  workflow(): Workflow {
    return new Workflow((id, steps, manager) => this.writeWorkflow(id, steps, manager, undefined, 'workflow'));
  }

  /**
   * Adds steps to the workflow of `job`, a step running now (call it from
   * `perform`): deps may name stored steps, and whoever depends on
   * `{ appendedBy: <job's step> }` waits for the new jobs too (fan-out).
   */
  appendToWorkflow(job: Pick<Job, 'id' | 'meta'>): Workflow<never, string> {
    const where = `appendToWorkflow(job ${job?.id})`;
    const id = workflowIdOfStep(job, where);
    const write = (wf: string, steps: PlannedStep[], manager: EntityManager | undefined) =>
      this.writeWorkflow(wf, steps, manager, checkId(job.id, where), where);
    return new Workflow<never, string>(write, id, where, true);
  }

  /**
   * @internal The write of a workflow (or an append, `appender` the appending
   * job) built by a job in a pool process, whose plan was checked there; its
   * workers come by name (pool/protocol/calls.ts). Not for application code.
   */
  insertWorkflowPlan(
    id: string,
    steps: PlannedStep[],
    appender: number | null,
    where: string,
  ): Promise<InsertedWorkflow> {
    if (!Array.isArray(steps)) throw new ObanValidationError(`${where}: the plan's steps must be an array`);
    const job = appender === null ? undefined : checkId(appender, where);
    return this.writeWorkflow(checkWorkflowId(id, where), steps, undefined, job, where);
  }

  /** @internal The write of a batch built by a job in a pool process (workers by name). Not for application code. */
  insertBatchPlan(
    id: string,
    callbacks: Partial<Record<BatchCallbackName, BatchCallback>>,
    members: BatchMemberInput[],
  ): Promise<{ id: string; jobs: Job[] }> {
    if (!Array.isArray(members)) throw new ObanValidationError(`batch: the members must be an array`);
    return this.writeBatch(checkBatchId(id, 'batch'), callbacks ?? {}, members, undefined);
  }

  /** The jobs of a workflow counted by state, in all and per step; `finished` once none is left to run. */
  workflowStatus(id: string): Promise<WorkflowStatus> {
    return this.workflows().status(checkWorkflowId(id, 'workflowStatus'));
  }

  /** The jobs of a workflow, in id order (at most `limit`, default 1000). */
  workflowJobs(id: string, limit = 1000): Promise<Job[]> {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new ObanValidationError(`workflowJobs: limit must be a whole number >= 1, got ${String(limit)}`);
    }
    return this.workflows().jobs(checkWorkflowId(id, 'workflowJobs'), limit);
  }

  /** Cancels every unfinished job of a workflow (running ones are stopped where they run); returns the ids. */
  async cancelWorkflow(id: string): Promise<number[]> {
    const { cancelled, executing } = await this.workflows().cancel(checkWorkflowId(id, 'cancelWorkflow'));
    for (const jobId of executing) this.signals.emit({ action: 'pkill', job_id: jobId });
    return cancelled;
  }

  /**
   * Retries the discarded and cancelled jobs of a workflow: those whose
   * dependencies are done run now, the others wait for them again.
   */
  retryWorkflow(id: string): Promise<Array<{ id: number; state: JobState }>> {
    return this.workflows().retry(checkWorkflowId(id, 'retryWorkflow'));
  }

  private async writeWorkflow(
    id: string,
    steps: PlannedStep[],
    manager: EntityManager | undefined,
    appender: number | undefined,
    where: string,
  ): Promise<InsertedWorkflow> {
    this.refuseInline(where);
    const began = performance.now();
    const inputs = steps.map((step) => ({
      worker: step.worker,
      args: step.args,
      options: {
        ...step.options,
        meta: {
          ...(step.options.meta ?? {}),
          workflow_id: id,
          workflow_step: step.name,
          workflow_deps: step.deps.map((d) => d.name),
        },
      },
      where: `${where} step '${step.name}' (${workerLabel(step.worker)})`,
    }));
    const rows = await this.buildRows(inputs);
    const via = this.via(manager, where);
    if (
      manager &&
      (manager as { queryRunner?: { isTransactionActive?: boolean } }).queryRunner?.isTransactionActive !== true
    ) {
      throw new ObanValidationError(
        `${where}: manager must be the EntityManager of a running transaction (dataSource.transaction(...)), ` +
          `so the steps and their dependencies are written together`,
      );
    }
    const inserted = await this.hooked(
      'workflow',
      rows,
      () => this.workflows().insert(id, steps, rows, via, appender, where),
      (written) => jobIds(Object.values(written.jobs)),
    );
    if (this.events.has('insert')) this.emitInsert(Object.values(inserted.jobs), true, began);
    return inserted;
  }

  /**
   * Starts a batch: jobs added with `add()`, inserted together by `insert()`,
   * with callback jobs inserted once when all completed (`onCompleted`), all
   * finished in any way (`onExhausted`), or the first failed (`onDiscarded`).
   */
  batch(options: BatchOptions = {}): Batch {
    return new Batch((id, callbacks, members, manager) => this.writeBatch(id, callbacks, members, manager), options);
  }

  /** Adds jobs to a batch that still has unfinished members (refused once it has finished). */
  async addToBatch(id: string, entries: InsertAllEntry[], options: { manager?: EntityManager } = {}): Promise<Job[]> {
    const where = `addToBatch('${id}')`;
    checkBatchId(id, 'addToBatch');
    if (!Array.isArray(entries))
      throw new ObanValidationError(`${where}: expected an array of { worker, args, ...options }`);
    const members = entries.map((entry, i) => {
      const { worker, args, ...jobOptions } = entry ?? ({} as InsertAllEntry);
      return { worker, args, options: jobOptions, where: `${where}[${i}]` };
    });
    this.refuseInline(where);
    const began = performance.now();
    const rows = await this.buildRows(members.map((m) => this.batchMember(id, m)));
    const via = this.via(options.manager, where);
    const jobs = await this.hooked('batch', rows, () => this.batches().grow(id, rows, via, where), jobIds);
    if (this.events.has('insert')) this.emitInsert(jobs, true, began);
    return jobs;
  }

  /** A batch's counts and fired callbacks, or null when there is no such batch. */
  batchStatus(id: string): Promise<BatchStatus | null> {
    return this.batches().status(checkBatchId(id, 'batchStatus'));
  }

  private async writeBatch(
    id: string,
    callbacks: Partial<Record<BatchCallbackName, BatchCallback>>,
    members: BatchMemberInput[],
    manager: EntityManager | undefined,
  ): Promise<{ id: string; jobs: Job[] }> {
    this.refuseInline('batch');
    const began = performance.now();
    const callbackRows: Partial<Record<BatchCallbackName, InsertRow>> = {};
    for (const [name, callback] of Object.entries(callbacks) as Array<[BatchCallbackName, BatchCallback]>) {
      if (typeof callback !== 'object' || callback === null) {
        throw new ObanValidationError(`batch: ${name} must be { worker, args?, ...job options }`);
      }
      const { worker, args = {}, ...jobOptions } = callback;
      [callbackRows[name]] = await this.buildRows([
        { worker, args, options: jobOptions, where: `batch ${name} (${workerLabel(worker)})` },
      ]);
    }
    const rows = await this.buildRows(members.map((m) => this.batchMember(id, m)));
    const via = this.via(manager, 'batch.insert');
    const jobs = await this.hooked('batch', rows, () => this.batches().create(id, callbackRows, rows, via), jobIds);
    if (this.events.has('insert')) this.emitInsert(jobs, true, began);
    return { id, jobs };
  }

  private batchMember(id: string, member: BatchMemberInput) {
    const options = member.options ?? {};
    return {
      ...member,
      where: `${member.where} (${workerLabel(member.worker)})`,
      options: { ...options, meta: { ...(options.meta ?? {}), batch_id: id } },
    };
  }

  /** Workflows and batches are kept by the database's triggers, which `testing: 'inline'` has no part in. */
  private refuseInline(where: string): void {
    if (this.internals.config.testing === 'inline') {
      throw new ObanValidationError(
        `${where}: testing is 'inline', where each job runs at insert, so no job could wait for another; ` +
          `use testing: 'manual' and drainQueue to run workflows and batches in tests`,
      );
    }
  }

  private batchStore: BatchStore | undefined;

  private batches(): BatchStore {
    const { db, config } = this.internals;
    this.batchStore ??= new BatchStore(db, buildComposeStatements(config.prefix));
    return this.batchStore;
  }

  private workflowStore: WorkflowStore | undefined;

  private workflows(): WorkflowStore {
    const { db, config } = this.internals;
    this.workflowStore ??= new WorkflowStore(db, buildComposeStatements(config.prefix));
    return this.workflowStore;
  }

  private relaying: Relay | undefined;

  private relayer(): Relay {
    const { db, config } = this.internals;
    this.relaying ??= new Relay(
      db,
      buildComposeStatements(config.prefix),
      this.logger,
      config.stageInterval,
      config.reconcileInterval,
      (id) => this.cancelJob(id),
    );
    return this.relaying;
  }

  /** @internal ObanRuntime hands over its Notifier, so awaiting jobs LISTENs on the node's one connection. */
  shareNotifier(notifier: Notifier): void {
    this.relayer().share(notifier);
  }

  async onModuleDestroy(): Promise<void> {
    await this.relaying?.close();
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
   * that start later (it outranks their configured limit). With an object,
   * also (or only) its limits across nodes: `globalLimit`, `rateLimit`,
   * `partition`, each replacing the configured one, null removing it; e.g.
   * `scaleQueue('media', { globalLimit: 5 })`.
   */
  async scaleQueue(queue: string, scale: number | ScaleQueueOptions): Promise<void> {
    await this.requireKnownQueue(queue, 'scaleQueue');
    const where = `scaleQueue('${queue}')`;
    const fail = (message: string): never => {
      throw new ObanValidationError(message);
    };
    const options = (typeof scale === 'object' && scale !== null ? scale : { limit: scale }) as Record<string, unknown>;
    knownKeys(options, ['limit', ...LIMIT_KEYS], fail, { within: where });
    const { limit } = options;
    if (limit !== undefined && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1)) {
      throw new ObanValidationError(`${where}: limit must be a whole number >= 1, got ${String(limit)}`);
    }
    const limits = limitsChange(options, where, fail);
    if (Object.keys(limits).length === 0) {
      if (limit === undefined) fail(`${where}: nothing to change; give limit, globalLimit, rateLimit or partition`);
      await this.signal({ action: 'scale', queue, limit: limit as number }, { limit: limit as number });
      return;
    }
    const signal: Signal & { queue: string } = { action: 'limits', queue, change: limits };
    if (limit !== undefined) signal.limit = limit as number;
    await this.signal(signal, { limit: limit as number | undefined, limits });
  }

  /**
   * The queue's limits across nodes and, per partition, the jobs running and
   * available on all nodes and what is left of the global and rate limits
   * (one read of the queue's executing and available jobs); null if this node
   * does not run the queue.
   */
  checkLimits(queue: string): Promise<QueueLimitsState | null> {
    return this.node().queueLimits(queue);
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
  private async signal(
    signal: Signal & { queue: string },
    change: { paused?: boolean; limit?: number; limits?: QueueLimitsChange },
  ) {
    await this.cluster.setQueueState(signal.queue, change, signal);
    this.signals.emit(signal);
    const { node } = this.internals.config;
    if (signal.action === 'scale' || signal.action === 'limits') {
      if (signal.limit !== undefined && this.events.has('queue.scale'))
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

function checkWorkflowId(id: unknown, where: string): string {
  if (typeof id !== 'string' || id === '') {
    throw new ObanValidationError(`${where}: workflow id must be a non-empty string, got ${String(id)}`);
  }
  return id;
}

function checkId(id: unknown, where: string): number {
  if (!Number.isSafeInteger(id) || (id as number) < 1) {
    throw new ObanValidationError(`${where}: job id must be a positive integer, got ${String(id)}`);
  }
  return id as number;
}

function jobIds(jobs: Job[]): number[] {
  return jobs.map((j) => j.id);
}
