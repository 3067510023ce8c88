import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { Counter, Gauge, Histogram, type Registry, register as globalRegister } from 'prom-client';
import { ObanConfigError } from '../errors';
import type { JobStopEvent } from '../events/events';
import { ObanEvents } from '../events/oban-events';
import type { NodeView } from '../node-view';
import { OBAN_NODE } from '../oban.tokens';
import { isWorkerProcess } from '../util/process-role';

export interface ObanMetricsOptions {
  /** The prom-client registry the metrics go on (default: prom-client's global `register`). */
  registry?: Registry;
  /** Prefix of every metric name (default `'oban_'`). */
  prefix?: string;
  /** Ms between two computations of the `jobs` gauge by the leader (default 15000). */
  stateInterval?: number;
  /** Above this many rows (the planner's estimate) the `jobs` gauge holds estimates, not exact counts (default 100000). */
  estimateAbove?: number;
}

export const OBAN_METRICS_OPTIONS = Symbol.for('nest-oban.metrics-options');

const DEFAULT_STATE_INTERVAL_MS = 15_000;
const DEFAULT_ESTIMATE_ABOVE = 100_000;
/** Seconds, from 5 ms to 5 minutes: jobs run longer than HTTP requests. */
const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/**
 * nest-oban's Prometheus metrics, registered on `registry` at init and
 * removed from it at shutdown. Labels are `queue`, `worker` and `state` only
 * (never a job id or args), so their number stays bounded by the app's code.
 * Counters and histograms follow `job.stop`; the node's gauges are read when
 * the registry is scraped; the `jobs` gauge is computed by the leader every
 * `stateInterval` and empty on every other node.
 */
@Injectable()
export class ObanMetrics implements OnModuleInit, OnModuleDestroy {
  readonly registry: Registry;
  readonly prefix: string;
  readonly stateInterval: number;
  readonly estimateAbove: number;
  private readonly logger = new Logger('ObanMetrics');
  private node: NodeView | undefined;
  private readonly registered: string[] = [];
  private unsubscribe: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private jobsGauge: Gauge<'queue' | 'state'> | undefined;
  private refreshing: Promise<void> | undefined;
  private failedOnce = false;
  /** Whether the last `jobs` computation gave estimates (null: not computed on this node). */
  lastEstimated: boolean | null = null;

  constructor(
    @Inject(OBAN_METRICS_OPTIONS) options: ObanMetricsOptions,
    @Inject(ModuleRef) private readonly moduleRef: ModuleRef,
  ) {
    this.registry = options.registry ?? globalRegister;
    this.prefix = options.prefix ?? 'oban_';
    this.stateInterval = options.stateInterval ?? DEFAULT_STATE_INTERVAL_MS;
    this.estimateAbove = options.estimateAbove ?? DEFAULT_ESTIMATE_ABOVE;
    if (typeof this.prefix !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$|^$/.test(this.prefix)) {
      throw new ObanConfigError(
        `ObanMetricsModule: prefix must be a Prometheus name prefix, got ${String(this.prefix)}`,
      );
    }
    if (!Number.isInteger(this.stateInterval) || this.stateInterval <= 0) {
      throw new ObanConfigError(
        `ObanMetricsModule: stateInterval must be a positive integer (ms), got ${this.stateInterval}`,
      );
    }
    if (!Number.isInteger(this.estimateAbove) || this.estimateAbove < 0) {
      throw new ObanConfigError(`ObanMetricsModule: estimateAbove must be an integer >= 0, got ${this.estimateAbove}`);
    }
  }

  onModuleInit(): void {
    // A worker process runs jobs for the main process, which reports them: nothing to register here.
    if (isWorkerProcess()) return;
    const events = this.moduleRef.get(ObanEvents, { strict: false });
    this.node = this.moduleRef.get<NodeView>(OBAN_NODE, { strict: false });
    const node = this.node;
    const name = (n: string) => {
      const full = `${this.prefix}${n}`;
      this.registered.push(full);
      return full;
    };
    const registers = [this.registry];

    const jobs = new Counter({
      name: name('jobs_total'),
      help: 'Job attempts finished on this node, by queue, worker and how they ended (job.stop state)',
      labelNames: ['queue', 'worker', 'state'] as const,
      registers,
    });
    const duration = new Histogram({
      name: name('job_duration_seconds'),
      help: 'Seconds a job attempt ran, by queue, worker and how it ended',
      labelNames: ['queue', 'worker', 'state'] as const,
      buckets: SECONDS_BUCKETS,
      registers,
    });
    const queueTime = new Histogram({
      name: name('job_queue_time_seconds'),
      help: 'Seconds from when a job was due to when it was claimed, by queue and worker',
      labelNames: ['queue', 'worker'] as const,
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.jobsGauge = new Gauge({
      name: name('jobs'),
      help: 'Jobs by queue and state, cluster-wide, computed by the leader every stateInterval (estimates on large tables); empty on other nodes',
      labelNames: ['queue', 'state'] as const,
      registers,
    });
    new Gauge({
      name: name('executing'),
      help: 'Jobs running on this node now, by queue',
      labelNames: ['queue'] as const,
      registers,
      collect() {
        this.reset();
        for (const queue of node.health().queues) this.set({ queue }, node.queueState(queue)?.running ?? 0);
      },
    });
    new Gauge({
      name: name('queue_limit'),
      help: "This node's limit of each queue it runs (concurrent jobs)",
      labelNames: ['queue'] as const,
      registers,
      collect() {
        this.reset();
        for (const queue of node.health().queues) {
          const state = node.queueState(queue);
          if (state) this.set({ queue }, state.limit);
        }
      },
    });
    new Gauge({
      name: name('pool_processes'),
      help: "This node's worker processes (cpu: true jobs): ready, or starting (booting or being replaced)",
      labelNames: ['state'] as const,
      registers,
      async collect() {
        const stats = await node.poolStats();
        const ready = stats.filter((p) => p.ready).length;
        this.set({ state: 'ready' }, ready);
        this.set({ state: 'starting' }, stats.length - ready);
      },
    });

    this.unsubscribe = events.on('job.stop', (e: JobStopEvent) => {
      const labels = { queue: e.queue, worker: e.worker, state: e.state };
      jobs.inc(labels);
      duration.observe(labels, e.duration / 1000);
      queueTime.observe({ queue: e.queue, worker: e.worker }, Math.max(0, e.queueTime) / 1000);
    });
    this.timer = setInterval(() => void this.refreshStates(), this.stateInterval);
    this.timer.unref();
  }

  /**
   * Computes the `jobs` gauge now if this node leads (every `stateInterval`
   * otherwise); on any other node it empties it. One computation at a time.
   */
  refreshStates(): Promise<void> {
    this.refreshing ??= this.computeStates().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async computeStates(): Promise<void> {
    const gauge = this.jobsGauge;
    const node = this.node;
    if (!gauge || !node) return;
    if (!node.isLeader || node.health().testing !== 'disabled') {
      gauge.reset();
      this.lastEstimated = null;
      return;
    }
    try {
      const { estimated, counts } = await node.jobCounts(this.estimateAbove);
      gauge.reset();
      for (const c of counts) gauge.set({ queue: c.queue, state: c.state }, c.count);
      this.lastEstimated = estimated;
      this.failedOnce = false;
    } catch (error) {
      // The last values stay; a database that does not answer is the health checks' business.
      if (!this.failedOnce) this.logger.warn(`computing ${this.prefix}jobs failed: ${(error as Error).message}`);
      this.failedOnce = true;
    }
  }

  async onModuleDestroy(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await this.refreshing?.catch(() => undefined);
    for (const name of this.registered.splice(0)) this.registry.removeSingleMetric(name);
  }
}
