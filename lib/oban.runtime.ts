import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { ObanConfig } from './config/config';
import type { Database } from './db/database';
import { Engine } from './engine/engine';
import type { NodeView, QueueState } from './node-view';
import { Notifier } from './notifier/notifier';
import { OBAN_CONFIG, OBAN_DATABASE, OBAN_ROOT_FILE } from './oban.tokens';
import { Oban } from './oban.service';
import { buildBootSpec } from './pool/module-locator';
import { CHILD_OBAN_METHODS } from './pool/child/child-oban';
import { type PoolProcessStats, ProcessPool } from './pool/process-pool';
import { Acker } from './queue/acker';
import { Executor } from './queue/executor';
import { InProcessRunner } from './queue/job-runner';
import { Producer } from './queue/producer';
import { Stager } from './queue/stager';
import { type Signal, SignalBus } from './signals';
import { WorkerRegistry } from './worker/worker-registry';

/**
 * One node: the producers of the queues it runs, the executor, the acker, the
 * stager and the notifier. Starts once the whole app is up; stops early in
 * shutdown (its module sits next to the root), so running jobs finish before
 * the modules they use are torn down.
 */
@Injectable()
export class ObanRuntime implements OnApplicationBootstrap, OnModuleDestroy, NodeView {
  private readonly logger = new Logger('Oban');
  private readonly producers = new Map<string, Producer>();
  private readonly acker: Acker;
  private executor!: Executor; // built at start, once the pool (if any) is up
  private pool: ProcessPool | undefined;
  private readonly notifier: Notifier;
  private readonly stager: Stager;
  private unsubscribe: (() => void) | undefined;
  private started = false;

  constructor(
    @Inject(OBAN_CONFIG) private readonly config: ObanConfig,
    @Inject(OBAN_DATABASE) private readonly db: Database,
    @Inject(Engine) private readonly engine: Engine,
    @Inject(WorkerRegistry) private readonly registry: WorkerRegistry,
    @Inject(SignalBus) private readonly signals: SignalBus,
    @Inject(Oban) private readonly oban: Oban,
    @Inject(OBAN_ROOT_FILE) private readonly rootFile: string | undefined,
  ) {
    this.acker = new Acker(engine, this.logger, (queues) => {
      for (const queue of queues) this.producers.get(queue)?.wake();
    });
    this.notifier = new Notifier(db, this.logger);
    this.stager = new Stager(
      engine,
      config.stageInterval,
      () => [...this.producers.keys()],
      (queue) => this.producers.get(queue)?.wake(),
      this.logger,
    );
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
    return { queue, limit: producer.limit, paused: producer.paused, running: producer.runningCount };
  }

  /** The worker processes running `cpu: true` jobs, if this node has any. */
  poolStats(): Promise<PoolProcessStats[]> {
    return this.pool?.stats() ?? Promise.resolve([]);
  }

  private async start(): Promise<void> {
    const { config, engine } = this;
    if (config.testing !== 'disabled') {
      // Tests drive jobs themselves (inline at insert, or drainQueue): no queue runs here.
      this.logger.log(`testing: '${config.testing}': queues do not run on this node (${this.db.description})`);
      return;
    }
    this.pool = await this.startPool();
    this.executor = new Executor(this.registry, this.acker, new InProcessRunner(), this.pool, config.node, this.logger);
    for (const q of config.queues) {
      const deps = { engine, executor: this.executor, acker: this.acker, node: config.node, logger: this.logger };
      this.producers.set(q.name, new Producer(q.name, q.limit, q.paused, deps));
    }
    this.notifier.on(engine.sql.insertChannel, (queue) => this.producers.get(queue)?.wake());
    this.notifier.on(engine.sql.signalChannel, (payload) => {
      const signal = SignalBus.parse(payload);
      if (signal) this.apply(signal);
    });
    this.notifier.onReconnect(() => this.wakeAll());
    this.unsubscribe = this.signals.subscribe((signal) => this.apply(signal));
    await this.notifier.start();
    for (const producer of this.producers.values()) producer.start();
    this.stager.start();
    this.started = true;
    const processes = this.pool ? `; ${this.pool.size} worker process(es) for cpu workers` : '';
    const queues = config.queues.map((q) => `${q.name}:${q.limit}${q.paused ? ' (paused)' : ''}`).join(', ');
    this.logger.log(
      `node ${config.node} on ${this.db.description}: ` +
        (queues ? `running queues ${queues}` : 'running no queues (insert only)') +
        `; ${this.registry.all().length} worker(s)${processes}`,
    );
  }

  private async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.unsubscribe?.();
    for (const producer of this.producers.values()) producer.stop();
    await this.stager.stop();
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
    const spec = buildBootSpec(cpuWorkers, this.rootFile, ['log', 'error', 'warn']);
    const pool = new ProcessPool(
      this.config.processes,
      spec,
      (method, args) => this.callFromChild(method, args),
      this.logger,
    );
    await pool.start();
    return pool;
  }

  /** An `Oban` call made by a job in a worker process. */
  private callFromChild(method: string, args: unknown[]): Promise<unknown> {
    if (!CHILD_OBAN_METHODS.has(method))
      return Promise.reject(new Error(`Oban.${method} cannot be called from a worker process`));
    return (this.oban as any)[method](...args);
  }

  private apply(signal: Signal): void {
    if (signal.action === 'pkill') {
      this.executor.kill(signal.job_id);
      return;
    }
    const producer = this.producers.get(signal.queue);
    if (!producer) return;
    if (signal.action === 'pause') producer.pause();
    else if (signal.action === 'resume') producer.resume();
    else if (signal.action === 'scale') producer.scale(signal.limit);
  }

  private wakeAll(): void {
    for (const producer of this.producers.values()) producer.wake();
  }
}
