import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
  Optional,
} from '@nestjs/common';
import type { ObanConfig } from './config/config';
import type { Database } from './db/database';
import { ObanHooks } from './events/hooks';
import { ObanEvents } from './events/oban-events';
import type { NodeHealth, NodeView, QueueLimitsState, QueueState } from './node-view';
import { Notifier } from './notifier/notifier';
import { OBAN_CONFIG, OBAN_DATABASE, OBAN_ROOT_FILE } from './oban.tokens';
import { Oban } from './oban.service';
import { buildBootSpec } from './pool/module-locator';
import { ProcessPool } from './pool/process-pool';
import type { MainProcessCallName } from './pool/protocol/calls';
import type { PoolProcessStats } from './pool/protocol/stats';
import { testRunnerFallback, warnTestRunnerFallback } from './pool/test-runner';
import { CronPlugin, resolveCrontab } from './plugins/cron';
import { Lifeline } from './plugins/lifeline';
import { type LeadershipChange, Peer } from './plugins/peer';
import type { Plugin } from './plugins/plugin';
import { PoolReport } from './plugins/pool-report';
import { Pruner } from './plugins/pruner';
import { Acker } from './queue/acker';
import { Executor } from './queue/executor';
import { InProcessRunner } from './queue/job-runner';
import { Producer } from './queue/producer';
import { Reconciler, stopCancelled } from './queue/reconciler';
import { Stager } from './queue/stager';
import { type Signal, SignalBus } from './signals';
import { ClusterStore, type JobCounts } from './store/cluster-store';
import { PgJobStore } from './store/pg-job-store';
import { LimitedClaims } from './store/limited-claim';
import { LimitShares } from './store/limit-shares';
import { readLimitsChange } from './validation/limit-options';
import { type Clock, OBAN_CLOCK, systemClock } from './util/clock';
import { WorkerRegistry } from './worker/worker-registry';

/**
 * One node: the producers of the queues it runs, the executor (and the pool of
 * worker processes for cpu workers), the acker, the stager, the notifier, and
 * its place in the cluster (the peer's heartbeat and the leader-only plugins:
 * lifeline, pruner, cron). Starts once the whole app is up; stops early in
 * shutdown (its module is the first whose destroy hooks run: shutdown-order.ts), so running jobs finish before
 * any provider they use is torn down, the root module's own included.
 */
@Injectable()
export class ObanRuntime implements OnApplicationBootstrap, OnModuleDestroy, NodeView {
  private readonly logger: Logger;
  private readonly producers = new Map<string, Producer>();
  private readonly acker: Acker;
  /** Claims of queues with a rate limit or partitions, under the queue's lock. */
  private readonly limitedClaims: LimitedClaims;
  /** The shares of queues with a global limit alone. */
  private readonly limitShares: LimitShares;
  private executor!: Executor; // built at start, once the pool (if any) is up
  private pool: ProcessPool | undefined;
  private readonly notifier: Notifier;
  private reconciler: Reconciler | undefined;
  private readonly stager: Stager;
  private readonly peer: Peer;
  private plugins: Plugin[] = [];
  private unsubscribe: (() => void) | undefined;
  private started = false;
  /** Started in full, and not stopping: what health checks call running. */
  private running = false;

  constructor(
    @Inject(OBAN_CONFIG) private readonly config: ObanConfig,
    @Inject(OBAN_DATABASE) private readonly db: Database,
    @Inject(PgJobStore) private readonly store: PgJobStore,
    @Inject(WorkerRegistry) private readonly registry: WorkerRegistry,
    @Inject(SignalBus) private readonly signals: SignalBus,
    @Inject(Oban) private readonly oban: Oban,
    @Inject(OBAN_ROOT_FILE) private readonly rootFile: string | undefined,
    @Inject(ClusterStore) private readonly cluster: ClusterStore,
    @Inject(ObanEvents) private readonly events: ObanEvents,
    @Inject(ObanHooks) private readonly hooks: ObanHooks,
    @Optional() @Inject(OBAN_CLOCK) private readonly clock: Clock = systemClock,
  ) {
    this.logger = config.logger;
    this.acker = new Acker(
      store,
      this.logger,
      (queues) => {
        for (const queue of queues) this.producers.get(queue)?.wake();
      },
      (queue) => this.producers.get(queue)?.waitsOnOtherNodes === true,
    );
    this.limitedClaims = new LimitedClaims(db, config.prefix, config.statementTimeout);
    this.limitShares = new LimitShares(db, config.prefix, config.statementTimeout, store.sql.insertChannel);
    this.notifier = new Notifier(db, this.logger, config.reconcileInterval, events);
    oban.shareNotifier(this.notifier); // relay LISTENs on this connection, not one of its own
    this.stager = new Stager(
      store,
      config.stageInterval,
      () => [...this.producers.keys()],
      (queue) => this.producers.get(queue)?.wake(),
      this.logger,
    );
    this.peer = new Peer(
      cluster,
      config.node,
      config.cluster,
      () => ({ queues: [...this.producers.keys()], workers: this.registry.all().map((w) => w.name) }),
      this.logger,
      events,
    );
  }

  /** Whether this node is the cluster's leader now. */
  get isLeader(): boolean {
    return this.peer.isLeader;
  }

  /**
   * Follows this node's leadership: called with the state now, then on each
   * renewal and on letting go (for tests and metrics).
   */
  onLeadership(handler: (change: LeadershipChange) => void): void {
    handler(this.peer.leadership);
    this.peer.onChange(handler);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.stop();
  }

  queueState(queue: string): QueueState | null {
    const producer = this.producers.get(queue);
    if (!producer) return null;
    const { limit, paused, runningCount: running, aheadCount: claimedAhead } = producer;
    const { globalShare } = producer;
    return {
      queue,
      limit,
      paused,
      running,
      claimedAhead,
      ...producer.limits,
      ...(globalShare === undefined ? {} : { globalShare }),
    };
  }

  async queueLimits(queue: string): Promise<QueueLimitsState | null> {
    const producer = this.producers.get(queue);
    if (!producer) return null;
    const limits = producer.limits;
    return { queue, ...limits, partitions: await this.limitedClaims.partitions(queue, limits) };
  }

  /** The worker processes running `cpu: true` jobs, if this node has any. */
  poolStats(): Promise<PoolProcessStats[]> {
    return this.pool?.stats() ?? Promise.resolve([]);
  }

  health(): NodeHealth {
    return {
      node: this.config.node,
      testing: this.config.testing,
      database: this.db.kind,
      running: this.running,
      listening: this.notifier.listening,
      pollOnly: this.db.canListen === false,
      heartbeatAge: this.peer.heartbeatAge,
      nodeTtl: this.config.cluster.nodeTtl,
      queues: [...this.producers.keys()],
    };
  }

  async pingDatabase(): Promise<void> {
    await this.db.query('SELECT 1 AS ping');
  }

  currentLeader(): Promise<string | null> {
    return this.cluster.currentLeader();
  }

  backlogAges(queues: string[]): Promise<Map<string, number>> {
    return this.cluster.backlogAges(queues);
  }

  jobCounts(estimateAbove: number): Promise<JobCounts> {
    return this.cluster.jobCounts(estimateAbove);
  }

  private async start(): Promise<void> {
    const { config, store } = this;
    if (config.testing !== 'disabled') {
      // Tests drive jobs themselves (inline at insert, or drainQueue): no queue runs here.
      this.logger.log(`testing: '${config.testing}': queues do not run on this node (${this.db.description})`);
      return;
    }
    // Before anything starts: a bad crontab entry fails boot with nothing to undo.
    const crontab = resolveCrontab(config.cluster.crontab, this.registry);
    this.started = true;
    try {
      this.pool = await this.startPool();
      this.executor = new Executor(
        this.registry,
        this.acker,
        new InProcessRunner(),
        this.pool,
        config.node,
        this.logger,
        config.maxResultBytes,
        this.events,
        this.hooks,
      );
      for (const q of config.queues) {
        const deps = {
          store,
          executor: this.executor,
          acker: this.acker,
          node: config.node,
          logger: this.logger,
          limited: this.limitedClaims,
          shares: this.limitShares,
        };
        this.producers.set(q.name, new Producer(q.name, q.limit, q.paused, deps, q.limits));
      }
      const { executor, acker, producers, cluster, logger } = this;
      const interval = config.reconcileInterval;
      this.reconciler = new Reconciler({
        store,
        cluster,
        producers,
        executor,
        acker,
        node: config.node,
        interval,
        logger,
      });
      void this.notifier.on(store.sql.insertChannel, (queue) => this.producers.get(queue)?.wake());
      void this.notifier.on(store.sql.signalChannel, (payload) => {
        const signal = SignalBus.parse(payload);
        if (signal) this.apply(signal);
      });
      this.notifier.onReconnect(() => {
        this.wakeAll();
        this.reconciler?.runSoon(); // signals sent while LISTEN was down are in the stored states
      });
      this.unsubscribe = this.signals.subscribe((signal) => this.apply(signal));
      await this.notifier.start();
      // Read after LISTEN starts, so a pause sent meanwhile is either read here or received.
      await this.reconciler.start();
      // The node's row exists before it claims a job, so it is never taken for dead.
      await this.peer.start();
      for (const producer of this.producers.values()) producer.start();
      this.stager.start();
      this.plugins = [new Lifeline(), new CronPlugin(crontab, this.hooks), new PoolReport(() => this.poolStats())];
      if (config.cluster.pruner) this.plugins.push(new Pruner(config.cluster.pruner));
      const ctx = {
        config,
        cluster: this.cluster,
        registry: this.registry,
        peer: this.peer,
        clock: this.clock,
        logger: this.logger,
        events: this.events,
      };
      for (const plugin of this.plugins) await plugin.start(ctx);
    } catch (error) {
      await this.stop().catch(() => undefined);
      throw error;
    }
    this.running = true;
    const processes = this.pool ? `; ${this.pool.size} worker process(es) for cpu workers` : '';
    const queues = [...this.producers.values()]
      .map((p) => `${p.queue}:${p.limit}${p.paused ? ' (paused)' : ''}`)
      .join(', ');
    this.logger.log(
      `node ${config.node} on ${this.db.description}: ` +
        (queues ? `running queues ${queues}` : 'running no queues (insert only)') +
        `; ${this.registry.all().length} worker(s)${processes}`,
    );
  }

  private async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.running = false;
    this.pool?.beginShutdown(); // a worker process that exits from now on is not replaced
    this.unsubscribe?.();
    for (const plugin of this.plugins) await plugin.stop();
    // Hand leadership on now rather than after the drain; keep beating so our running jobs stay ours.
    await this.peer.resignLeadership();
    for (const producer of this.producers.values()) producer.stop();
    await this.stager.stop();
    await this.reconciler?.stop();
    const deadline = Date.now() + this.config.shutdownGracePeriod;
    const unfinished = await this.drainProducers(deadline);
    if (unfinished > 0) {
      this.logger.warn(
        `${unfinished} job(s) still running after the ${this.config.shutdownGracePeriod} ms grace period; ` +
          `jobs in worker processes are stopped and put back, those in this process are left for rescue`,
      );
      this.executor.abortAll();
      // Aborted jobs settle at once here, or when their worker process has exited.
      await this.drainProducers(Date.now() + 5_000);
    }
    await this.acker.drain(Math.max(1_000, deadline - Date.now()));
    await this.pool?.stop(Math.max(1_000, deadline - Date.now()));
    // Last: until here this node's row keeps its unfinished jobs from being rescued.
    await this.peer.stop();
    await this.notifier.stop();
  }

  private async drainProducers(deadline: number): Promise<number> {
    const left = await Promise.all([...this.producers.values()].map((p) => p.drain(deadline)));
    return left.reduce((a, b) => a + b, 0);
  }

  /**
   * Starts the worker processes when this node runs queues and has `cpu: true`
   * workers, unless `processes` is 0 (then they run in this process).
   */
  private async startPool(): Promise<ProcessPool | undefined> {
    const cpuWorkers = this.registry.all().filter((w) => w.options.cpu);
    if (this.config.processes === 0 || cpuWorkers.length === 0 || this.config.queues.length === 0) return undefined;
    const underTestRunner = testRunnerFallback(
      cpuWorkers.map((w) => w.name),
      this.rootFile,
      cpuWorkers.map((w) => w.hostModule),
      [...process.execArgv, ...this.config.processExecArgv],
    );
    if (underTestRunner) {
      warnTestRunnerFallback(underTestRunner);
      return undefined;
    }
    const spec = buildBootSpec(cpuWorkers, this.rootFile, ['log', 'error', 'warn'], this.config.processExclude);
    const pool = new ProcessPool(
      this.config.processes,
      this.config.processExecArgv,
      spec,
      (method, args) => this.callFromPool(method, args),
      this.logger,
      this.events,
    );
    pool.inspectPort = this.config.processInspectPort;
    await pool.start();
    return pool;
  }

  /** An `Oban` call made by a job in a pool process (the pool checked the name against the one list). */
  private callFromPool(method: MainProcessCallName, args: unknown[]): Promise<unknown> {
    return (this.oban[method] as (...args: unknown[]) => Promise<unknown>).apply(this.oban, args);
  }

  private apply(signal: Signal): void {
    if (signal.action === 'pkill') {
      stopCancelled(signal.job_id, this.producers.values(), this.executor);
      return;
    }
    if (signal.action === 'leader') {
      if (signal.resigned !== this.config.node) this.peer.beatSoon();
      return;
    }
    const producer = this.producers.get(signal.queue);
    if (!producer) return;
    if (signal.action === 'available') producer.wake();
    else if (signal.action === 'pause') producer.pause();
    else if (signal.action === 'resume') producer.resume();
    else if (signal.action === 'scale') producer.scale(signal.limit);
    else if (signal.action === 'limits') {
      if (signal.limit !== undefined) producer.scale(signal.limit);
      const change = readLimitsChange(signal.change, `the limits signalled for queue '${signal.queue}'`);
      if (change instanceof Error) this.logger.warn(`${change.message}; the queue keeps its limits`);
      else producer.changeLimits(change);
    }
  }

  private wakeAll(): void {
    for (const producer of this.producers.values()) producer.wake();
  }
}
