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
import { ClusterEngine } from './engine/cluster-engine';
import { Engine } from './engine/engine';
import { Notifier } from './notifier/notifier';
import { OBAN_CONFIG, OBAN_DATABASE } from './oban.tokens';
import { CronPlugin, resolveCrontab } from './plugins/cron';
import { Lifeline } from './plugins/lifeline';
import { type LeadershipChange, Peer } from './plugins/peer';
import type { Plugin } from './plugins/plugin';
import { Pruner } from './plugins/pruner';
import { Acker } from './queue/acker';
import { Executor } from './queue/executor';
import { InProcessRunner } from './queue/job-runner';
import { Producer } from './queue/producer';
import { Stager } from './queue/stager';
import { type Signal, SignalBus } from './signals';
import { type Clock, OBAN_CLOCK, systemClock } from './util/clock';
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
 * stager, the notifier, and its place in the cluster (the peer's heartbeat and
 * the leader-only plugins: lifeline, pruner, cron). Starts once the whole app is up; stops early in
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
  private readonly peer: Peer;
  private plugins: Plugin[] = [];
  private unsubscribe: (() => void) | undefined;
  private started = false;

  constructor(
    @Inject(OBAN_CONFIG) private readonly config: ObanConfig,
    @Inject(OBAN_DATABASE) private readonly db: Database,
    private readonly engine: Engine,
    private readonly registry: WorkerRegistry,
    private readonly signals: SignalBus,
    private readonly cluster: ClusterEngine,
    @Optional() @Inject(OBAN_CLOCK) private readonly clock: Clock = systemClock,
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
    this.peer = new Peer(
      cluster,
      config.node,
      config.cluster,
      () => ({ queues: [...this.producers.keys()], workers: this.registry.all().map((w) => w.name) }),
      this.logger,
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
    return { queue, limit: producer.limit, paused: producer.paused, running: producer.runningCount };
  }

  private async start(): Promise<void> {
    const { config, engine } = this;
    // Before anything starts: a bad crontab entry fails boot with nothing to undo.
    const crontab = resolveCrontab(config.cluster.crontab, this.registry);
    this.started = true;
    try {
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
      // Read after LISTEN starts, so a pause sent meanwhile is either read here or received.
      await this.applyStoredQueueStates();
      // The node's row exists before it claims a job, so it is never taken for dead.
      await this.peer.start();
      for (const producer of this.producers.values()) producer.start();
      this.stager.start();
      this.plugins = [new Lifeline(), new CronPlugin(crontab)];
      if (config.cluster.pruner) this.plugins.push(new Pruner(config.cluster.pruner));
      const ctx = {
        config,
        cluster: this.cluster,
        registry: this.registry,
        peer: this.peer,
        clock: this.clock,
        logger: this.logger,
      };
      for (const plugin of this.plugins) await plugin.start(ctx);
    } catch (error) {
      await this.stop().catch(() => undefined);
      throw error;
    }
    const queues = [...this.producers.values()]
      .map((p) => `${p.queue}:${p.limit}${p.paused ? ' (paused)' : ''}`)
      .join(', ');
    this.logger.log(
      `node ${config.node} on ${this.db.description}: ` +
        (queues ? `running queues ${queues}` : 'running no queues (insert only)') +
        `; ${this.registry.all().length} worker(s)`,
    );
  }

  /** Applies pauses and limits set at run time (oban_queues), which outrank this node's config. */
  private async applyStoredQueueStates(): Promise<void> {
    for (const state of await this.cluster.queueStates([...this.producers.keys()])) {
      const producer = this.producers.get(state.name);
      if (!producer) continue;
      if (state.limit !== null) producer.scale(state.limit);
      if (state.paused === true) producer.pause();
      else if (state.paused === false) producer.resume();
    }
  }

  private async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.unsubscribe?.();
    for (const plugin of this.plugins) await plugin.stop();
    // Hand leadership on now rather than after the drain; keep beating so our running jobs stay ours.
    await this.peer.resignLeadership();
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
    await this.peer.stop();
    await this.notifier.stop();
  }

  private apply(signal: Signal): void {
    if (signal.action === 'pkill') {
      this.executor.kill(signal.job_id);
      return;
    }
    if (signal.action === 'leader') {
      if (signal.resigned !== this.config.node) this.peer.beatSoon();
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
