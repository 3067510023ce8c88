import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { ObanConfig } from './config/config';
import type { Database } from './db/database';
import { Engine } from './engine/engine';
import { Notifier } from './notifier/notifier';
import { OBAN_CONFIG, OBAN_DATABASE } from './oban.tokens';
import { Acker } from './queue/acker';
import { Executor } from './queue/executor';
import { InProcessRunner } from './queue/job-runner';
import { Producer } from './queue/producer';
import { Stager } from './queue/stager';
import { type Signal, SignalBus } from './signals';
import { WorkerRegistry } from './worker/worker-registry';

/** What `Oban.checkQueue` reports about a queue on this node. */
export interface QueueState {
  queue: string;
  limit: number;
  paused: boolean;
  /** Jobs of this queue running on this node now. */
  running: number;
}

/**
 * One node: the producers of the queues it runs, the executor, the acker, the
 * stager and the notifier. Starts once the whole app is up; stops early in
 * shutdown (its module sits next to the root), so running jobs finish before
 * the modules they use are torn down.
 */
@Injectable()
export class ObanRuntime implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Oban');
  private readonly producers = new Map<string, Producer>();
  private readonly acker: Acker;
  private readonly executor: Executor;
  private readonly notifier: Notifier;
  private readonly stager: Stager;
  private unsubscribe: (() => void) | undefined;
  private started = false;

  constructor(
    @Inject(OBAN_CONFIG) private readonly config: ObanConfig,
    @Inject(OBAN_DATABASE) private readonly db: Database,
    private readonly engine: Engine,
    private readonly registry: WorkerRegistry,
    private readonly signals: SignalBus,
  ) {
    this.acker = new Acker(engine, this.logger);
    this.executor = new Executor(registry, this.acker, new InProcessRunner(), undefined, config.node, this.logger);
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

  private async start(): Promise<void> {
    const { config, engine } = this;
    if (config.testing !== 'disabled') {
      // Tests drive jobs themselves (inline at insert, or drainQueue): no queue runs here.
      this.logger.log(`testing: '${config.testing}': queues do not run on this node (${this.db.description})`);
      return;
    }
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
    const queues = config.queues.map((q) => `${q.name}:${q.limit}${q.paused ? ' (paused)' : ''}`).join(', ');
    this.logger.log(
      `node ${config.node} on ${this.db.description}: ` +
        (queues ? `running queues ${queues}` : 'running no queues (insert only)') +
        `; ${this.registry.all().length} worker(s)`,
    );
  }

  private async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.unsubscribe?.();
    for (const producer of this.producers.values()) producer.stop();
    await this.stager.stop();
    const deadline = Date.now() + this.config.shutdownGracePeriod;
    const left = await Promise.all([...this.producers.values()].map((p) => p.drain(deadline)));
    const unfinished = left.reduce((a, b) => a + b, 0);
    if (unfinished > 0) {
      this.logger.warn(
        `${unfinished} job(s) still running after the ${this.config.shutdownGracePeriod} ms grace period; ` +
          `they are left for rescue`,
      );
      this.executor.abortAll();
    }
    await this.acker.drain(Math.max(1_000, deadline - Date.now()));
    await this.notifier.stop();
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
