import { Logger } from '@nestjs/common';
import type { Database } from '../db/database';
import { JOB_STATES, type JobState } from '../job';
import type { NodeView, QueueState } from '../node-view';
import type { PoolProcessStats } from '../pool/protocol/stats';
import { ClusterStore, type StoredQueueState } from '../store/cluster-store';
import { type QueueLimits, applyLimitsChange } from '../store/limited-claim';
import { readLimitsChange } from '../validation/limit-options';
import type { ObanInternals } from '../oban.service';
import { BoundedReads } from './bounded-reads';
import type { DashboardStatements } from './statements';

export interface QueueSummary {
  name: string;
  /** Jobs per state (every state present, 0 when none). */
  counts: Record<JobState, number>;
  /** True when `counts` are the planner's estimates. */
  estimated: boolean;
  /** Paused cluster-wide (stored by pause/resume), else as this node runs it; null: as each node is configured. */
  paused: boolean | null;
  /** The limit set by scale, else this node's; null: as each node is configured. */
  limit: number | null;
  /**
   * Its limits across nodes (global, rate, partition), as this node runs it,
   * else as set at run time by scale (`{}`: none); null: not known here (this
   * node does not run it and no change is stored: as each node is configured).
   */
  limits: QueueLimits | null;
  /** Live nodes that run it. */
  nodes: string[];
  /** Jobs of it executing now, cluster-wide (exact). */
  executing: number;
}

export interface NodeSummary {
  node: string;
  queues: string[];
  workers: string[];
  startedAt: string;
  /** When its row was last renewed: its expiry less this node's `nodeTtl` (nodes share one). */
  heartbeatAt: string;
  expiresAt: string;
  leader: boolean;
  /** The node serving this dashboard. */
  self: boolean;
  /** Its worker processes: read now for the node serving the dashboard, as last reported (each heartbeat interval) for the others; null: not reported. */
  processes: PoolProcessStats[] | null;
}

/** Jobs per minute over the last hour, per queue; minutes oldest first. */
export interface Activity {
  /** Epoch ms of the start of each minute, oldest first (60 of them). */
  minutes: number[];
  queues: Record<string, { completed: number[]; failed: number[] }>;
}

export interface DashboardSnapshot {
  at: string;
  node: string;
  leader: string | null;
  queues: QueueSummary[];
  nodes: NodeSummary[];
  activity: Activity;
  /** True when the queue counts are estimates. */
  estimated: boolean;
}

const MINUTE = 60_000;
const HOUR_MINUTES = 60;

/**
 * The live figures every viewer polls, read at most once per
 * `refreshInterval` whatever the number of viewers: concurrent requests share
 * one read, and later ones the cached result until it is stale. Past minutes
 * of the activity chart are kept, not read again: each read asks only for the
 * last two minutes (so the pruner deleting old completed jobs does not empty it).
 */
export class SnapshotSource {
  /** How many reads ran (tests check it stays one per interval). */
  refreshes = 0;
  private cached: { at: number; value: Promise<DashboardSnapshot> } | undefined;
  private readonly minutes = new Map<number, Map<string, { completed: number; failed: number }>>();
  private lastNow: number | undefined;
  private readonly logger = new Logger('ObanDashboard');

  constructor(
    private readonly internals: ObanInternals,
    private readonly node: () => NodeView,
    private readonly reads: BoundedReads,
    private readonly sql: DashboardStatements,
    private readonly refreshInterval: number,
    private readonly estimateAbove: number,
  ) {}

  get(): Promise<DashboardSnapshot> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < this.refreshInterval) return this.cached.value;
    const value = this.read();
    this.cached = { at: now, value };
    value.catch((error) => this.logger.warn(`reading the dashboard's figures failed: ${(error as Error).message}`));
    return value;
  }

  /** Forget the cached figures: the next `get` reads afresh (after an action, whose effect the page must show). */
  invalidate(): void {
    this.cached = undefined;
  }

  private async read(): Promise<DashboardSnapshot> {
    this.refreshes++;
    const { db, cluster, config } = this.internals;
    const fetched = await this.reads.run(async (q) => {
      const store = new ClusterStore(BoundedReads.asDatabase(q, db as Database), cluster.sql);
      const [{ now_ms }] = await q.query<{ now_ms: number }>(this.sql.now);
      const now = Number(now_ms);
      const nodes = await q.query<NodeRow>(this.sql.liveNodes);
      const counts = await store.jobCounts(this.estimateAbove);
      const executing = await q.query<{ queue: string; count: number }>(this.sql.executing);
      const since =
        this.lastNow === undefined
          ? floorMinute(now) - (HOUR_MINUTES - 1) * MINUTE
          : floorMinute(this.lastNow) - MINUTE;
      const activity = await q.query<ActivityRow>(this.sql.activity, [new Date(since).toISOString()]);
      const stored = await q.query<StoredQueueState>(this.sql.storedQueues);
      const names = new Set<string>([
        ...config.queues.map((c) => c.name),
        ...nodes.flatMap((n) => n.queues),
        ...counts.counts.map((c) => c.queue),
        ...executing.map((e) => e.queue),
        ...stored.map((s) => s.name),
      ]);
      return { now, nodes, counts, executing, since, activity, stored, names };
    });
    this.keepActivity(fetched.now, fetched.since, fetched.activity);
    const node = this.node();
    const processes = await node.poolStats().catch(() => []);
    const leader = fetched.nodes.find((n) => n.leader)?.node ?? null;

    const queues: QueueSummary[] = [...fetched.names].sort().map((name) => {
      const local = node.queueState(name);
      const stored = fetched.stored.find((s) => s.name === name);
      const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
      for (const c of fetched.counts.counts) if (c.queue === name) counts[c.state] += c.count;
      const executing = fetched.executing.find((e) => e.queue === name)?.count ?? 0;
      counts.executing = executing; // exact, whatever the others are
      return {
        name,
        counts,
        estimated: fetched.counts.estimated,
        paused: stored?.paused ?? local?.paused ?? null,
        limit: stored?.limit ?? local?.limit ?? null,
        limits: local ? limitsOf(local) : this.storedLimits(stored),
        nodes: fetched.nodes.filter((n) => n.queues.includes(name)).map((n) => n.node),
        executing,
      };
    });
    const ttl = config.cluster.nodeTtl;
    const nodes: NodeSummary[] = fetched.nodes.map((n) => ({
      node: n.node,
      queues: n.queues,
      workers: n.workers,
      startedAt: new Date(n.started_at).toISOString(),
      expiresAt: new Date(n.expires_at).toISOString(),
      heartbeatAt: new Date(new Date(n.expires_at).getTime() - ttl).toISOString(),
      leader: n.leader,
      self: n.node === config.node,
      processes: n.node === config.node ? processes : (n.processes ?? null),
    }));
    return {
      at: new Date(fetched.now).toISOString(),
      node: config.node,
      leader,
      queues,
      nodes,
      activity: this.activity(fetched.now),
      estimated: fetched.counts.estimated,
    };
  }

  /** The limits a scale stored for a queue this node does not run (a change over none configured). */
  private storedLimits(stored: StoredQueueState | undefined): QueueLimits | null {
    if (!stored?.limits) return null;
    const change = readLimitsChange(stored.limits, `the limits stored for queue '${stored.name}'`);
    return change instanceof Error ? null : applyLimitsChange({}, change);
  }

  /** Replaces the minutes read again (from `since`) and forgets those older than an hour. */
  private keepActivity(now: number, since: number, rows: ActivityRow[]): void {
    for (const minute of [...this.minutes.keys()]) {
      if (minute >= since || minute <= floorMinute(now) - HOUR_MINUTES * MINUTE) this.minutes.delete(minute);
    }
    for (const row of rows) {
      const minute = Number(row.minute);
      let queues = this.minutes.get(minute);
      if (!queues) this.minutes.set(minute, (queues = new Map()));
      const entry = queues.get(row.queue) ?? { completed: 0, failed: 0 };
      entry[row.kind] += Number(row.count);
      queues.set(row.queue, entry);
    }
    this.lastNow = now;
  }

  private activity(now: number): Activity {
    const last = floorMinute(now);
    const minutes = Array.from({ length: HOUR_MINUTES }, (_, i) => last - (HOUR_MINUTES - 1 - i) * MINUTE);
    const queues: Activity['queues'] = {};
    minutes.forEach((minute, i) => {
      for (const [queue, entry] of this.minutes.get(minute) ?? []) {
        queues[queue] ??= { completed: new Array(HOUR_MINUTES).fill(0), failed: new Array(HOUR_MINUTES).fill(0) };
        queues[queue].completed[i] = entry.completed;
        queues[queue].failed[i] = entry.failed;
      }
    });
    return { minutes, queues };
  }
}

function limitsOf(state: QueueState): QueueLimits {
  const { globalLimit, rateLimit, partition } = state;
  return { globalLimit, rateLimit, partition };
}

interface NodeRow {
  node: string;
  queues: string[];
  workers: string[];
  started_at: Date | string;
  expires_at: Date | string;
  leader: boolean;
  processes: PoolProcessStats[] | null;
}

interface ActivityRow {
  queue: string;
  kind: 'completed' | 'failed';
  minute: string | number;
  count: number;
}

function floorMinute(ms: number): number {
  return Math.floor(ms / MINUTE) * MINUTE;
}
