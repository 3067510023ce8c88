import { Inject, Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { type HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { ObanConfigError } from '../errors';
import type { NodeHealth, NodeView } from '../node-view';
import { OBAN_NODE } from '../oban.tokens';
import { withTimeout } from '../util/timeout';

/** What every check takes. */
export interface ObanCheckOptions {
  /**
   * The prefix of the result keys: `'oban'` (the default) reports
   * `oban_heartbeat`, `oban_database`, and so on.
   */
  key?: string;
  /** Ms a check that asks the database or the worker processes may take before it counts as down (default 2000). */
  timeout?: number;
}

export interface ObanLivenessOptions extends ObanCheckOptions {
  /** Ms since the node's last successful heartbeat after which it counts as down (default: its `nodeTtl`). */
  maxHeartbeatAge?: number;
}

export interface ObanReadinessOptions extends ObanCheckOptions {
  /**
   * Per queue, the longest (ms) its oldest due job may wait to start, e.g.
   * `{ mail: 60_000 }`: readiness is down while a queue's backlog is older.
   */
  backlog?: Record<string, number>;
  /** Readiness needs some node of the cluster to hold the leader lease (default true). */
  leader?: boolean;
}

const DEFAULT_TIMEOUT_MS = 2_000;

/**
 * nest-oban's health for `@nestjs/terminus`, read from this node's own
 * runtime and database connection (no pool of its own):
 *
 * - `isLive()`: is this node alive? Its heartbeat (the row that keeps its
 *   jobs from being rescued) succeeded within `nodeTtl`.
 * - `isReady()`: can it do its work? It runs its queues (not starting, not
 *   shutting down), the database answers, the LISTEN connection is up, some
 *   node holds the leader lease, every worker process is up, and each queue
 *   given in `backlog` has no due job older than its threshold.
 *
 * Each check reports under a key of its own (`oban_database`, ...), so a
 * failing one is named in Terminus's `error`. Every check is bounded by
 * `timeout`: a health endpoint never hangs on a database that does not answer.
 */
@Injectable()
export class ObanHealthIndicator {
  constructor(
    @Inject(HealthIndicatorService) private readonly indicators: HealthIndicatorService,
    @Inject(ModuleRef) private readonly moduleRef: ModuleRef,
  ) {}

  /** Liveness: the node's heartbeat is fresh. */
  async isLive(options: ObanLivenessOptions = {}): Promise<HealthIndicatorResult> {
    return this.checkHeartbeat(`${keyOf(options)}_heartbeat`, options.maxHeartbeatAge);
  }

  /** Readiness: node running, database, notifier, leader, worker processes, and the backlogs asked for. */
  async isReady(options: ObanReadinessOptions = {}): Promise<HealthIndicatorResult> {
    const key = keyOf(options);
    const timeout = timeoutOf(options);
    const checks = [
      this.checkRunning(`${key}_node`),
      this.checkDatabase(`${key}_database`, timeout),
      this.checkNotifier(`${key}_notifier`),
      this.checkProcesses(`${key}_pool`, timeout),
    ];
    if (options.leader !== false) checks.push(this.checkLeader(`${key}_leader`, timeout));
    if (options.backlog !== undefined) checks.push(this.checkBacklog(`${key}_backlog`, options.backlog, timeout));
    return Object.assign({}, ...(await Promise.all(checks)));
  }

  /** The node's last successful heartbeat is at most `maxAge` ms old (default: its `nodeTtl`). */
  async checkHeartbeat(key: string, maxAge?: number): Promise<HealthIndicatorResult> {
    if (maxAge !== undefined) positive(maxAge, 'maxHeartbeatAge');
    return this.fromNode(key, (health) => {
      const limit = maxAge ?? health.nodeTtl;
      const age = health.heartbeatAge;
      const data = { node: health.node, heartbeatAgeMs: age === null ? null : Math.round(age), maxAgeMs: limit };
      if (age === null) return { down: `node ${health.node} has not written a heartbeat yet`, data };
      if (age > limit) {
        return {
          down: `node ${health.node}: last heartbeat ${Math.round(age)} ms ago (more than ${limit} ms)`,
          data,
        };
      }
      return { data };
    });
  }

  /** The node runs its queues: it has started and is not shutting down. */
  async checkRunning(key: string): Promise<HealthIndicatorResult> {
    return this.fromNode(key, (health) => {
      const data = { node: health.node, queues: health.queues };
      return health.running ? { data } : { down: `node ${health.node} is not running (starting or stopping)`, data };
    });
  }

  /** The node's LISTEN connection (instant notifications of inserts and signals) is up. */
  async checkNotifier(key: string): Promise<HealthIndicatorResult> {
    return this.fromNode(key, (health) =>
      health.listening
        ? { data: { listening: true } }
        : health.pollOnly
          ? { data: { listening: false, pollOnly: true } }
          : {
              down: `node ${health.node}: the LISTEN connection is down (reconnecting; queues poll meanwhile)`,
              data: { listening: false },
            },
    );
  }

  /** A `SELECT 1` through nest-oban's own database answers within `timeout` ms. */
  async checkDatabase(key: string, timeout = DEFAULT_TIMEOUT_MS): Promise<HealthIndicatorResult> {
    positive(timeout, 'timeout');
    const session = this.indicators.check(key);
    const node = this.node();
    if (typeof node === 'string') return session.down({ message: node });
    const kind = node.health().database;
    if (kind === 'none') return session.up({ database: kind });
    const started = performance.now();
    try {
      await within(timeout, 'SELECT 1 on the database', node.pingDatabase());
    } catch (error) {
      return session.down({ message: (error as Error).message, database: kind });
    }
    return session.up({ database: kind, responseTimeMs: Math.round(performance.now() - started) });
  }

  /** Some node of the cluster holds an unexpired leader lease (it runs the lifeline, pruner and cron). */
  async checkLeader(key: string, timeout = DEFAULT_TIMEOUT_MS): Promise<HealthIndicatorResult> {
    positive(timeout, 'timeout');
    return this.fromNode(key, async (health, node) => {
      const leader = await within(timeout, 'reading the leader lease', node.currentLeader());
      if (leader === null) {
        return {
          down: "no node holds the leader lease: rescuing dead nodes' jobs, pruning and cron wait for one",
          data: { leader: null },
        };
      }
      return { data: { leader, thisNode: leader === health.node } };
    });
  }

  /** Every worker process (running `cpu: true` jobs) is up; a node without any is up. */
  async checkProcesses(key: string, timeout = DEFAULT_TIMEOUT_MS): Promise<HealthIndicatorResult> {
    positive(timeout, 'timeout');
    return this.fromNode(key, async (_health, node) => {
      const stats = await within(timeout, 'asking the worker processes', node.poolStats());
      const ready = stats.filter((p) => p.ready);
      const data = { processes: stats.length, ready: ready.length, pids: ready.map((p) => p.pid) };
      if (ready.length === stats.length) return { data };
      return {
        down: `${stats.length - ready.length} of ${stats.length} worker process(es) not up (being replaced?)`,
        data,
      };
    });
  }

  /**
   * Per queue of `maxAge` (ms): its oldest due `available` job has waited at
   * most that long. Read cluster-wide, so any queue can be given.
   */
  async checkBacklog(
    key: string,
    maxAge: Record<string, number>,
    timeout = DEFAULT_TIMEOUT_MS,
  ): Promise<HealthIndicatorResult> {
    positive(timeout, 'timeout');
    if (typeof maxAge !== 'object' || maxAge === null) {
      throw new ObanConfigError('ObanHealthIndicator: backlog must be an object of { queue: max age in ms }');
    }
    for (const [queue, ms] of Object.entries(maxAge)) positive(ms, `backlog.${queue}`);
    return this.fromNode(key, async (_health, node) => {
      const queues = Object.keys(maxAge);
      const ages = await within(timeout, 'reading the backlogs', node.backlogAges(queues));
      const report: Record<string, { ageMs: number; maxAgeMs: number }> = {};
      const late: string[] = [];
      for (const queue of queues) {
        const age = Math.round(ages.get(queue) ?? 0);
        report[queue] = { ageMs: age, maxAgeMs: maxAge[queue] };
        if (age > maxAge[queue]) {
          late.push(`queue '${queue}': oldest due job waiting ${age} ms (more than ${maxAge[queue]} ms)`);
        }
      }
      return late.length > 0 ? { down: late.join('; '), data: { queues: report } } : { data: { queues: report } };
    });
  }

  /**
   * Runs a check on this node's runtime: `down` when it returns a reason or
   * throws. In a testing mode (no queue runs here) the node's checks are up, noting the mode.
   */
  private async fromNode(
    key: string,
    check: (
      health: NodeHealth,
      node: NodeView,
    ) => { down?: string; data: Record<string, unknown> } | Promise<{ down?: string; data: Record<string, unknown> }>,
  ): Promise<HealthIndicatorResult> {
    const session = this.indicators.check(key);
    const node = this.node();
    if (typeof node === 'string') return session.down({ message: node });
    const health = node.health();
    if (health.testing !== 'disabled') {
      return session.up({ testing: health.testing, message: 'no queue runs on this node in a testing mode' });
    }
    try {
      const { down, data } = await check(health, node);
      return down === undefined ? session.up(data) : session.down({ message: down, ...data });
    } catch (error) {
      return session.down({ message: (error as Error).message });
    }
  }

  /** This node's runtime, or why there is none here. */
  private node(): NodeView | string {
    try {
      return this.moduleRef.get<NodeView>(OBAN_NODE, { strict: false });
    } catch {
      return 'no nest-oban node in this app (is ObanModule.forRoot() imported? worker processes have none)';
    }
  }
}

function keyOf(options: ObanCheckOptions): string {
  const key = options.key ?? 'oban';
  if (typeof key !== 'string' || key === '') {
    throw new ObanConfigError(`ObanHealthIndicator: key must be a non-empty string, got ${String(key)}`);
  }
  return key;
}

function timeoutOf(options: ObanCheckOptions): number {
  return positive(options.timeout ?? DEFAULT_TIMEOUT_MS, 'timeout');
}

function positive(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ObanConfigError(`ObanHealthIndicator: ${name} must be a positive number of ms, got ${String(value)}`);
  }
  return value;
}

/** `promise`, or a rejection naming `what` when it fails or `ms` pass without an answer. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  return withTimeout(promise, ms, () => new Error(`no answer within ${ms} ms`)).catch((error: Error) => {
    throw new Error(`${what} failed: ${error.message}`);
  });
}
