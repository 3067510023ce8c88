import type { Database, Queryable } from '../db/database';
import type { ClusterStatements } from '../db/cluster-statements';
import { JOB_STATES, type JobState } from '../job';
import type { InsertRow } from './job-store';
import type { QueueLimitsChange } from './limited-claim';

/** What one node advertises in its row. */
export interface NodeAdvert {
  queues: string[];
  workers: string[];
}

export interface RescueCount {
  queue: string;
  /** The node that left them executing (`attempted_by[1]`). */
  node: string | null;
  available: number;
  discarded: number;
}

/** Queue state remembered in `oban_queues`; null fields defer to the node's config. */
export interface StoredQueueState {
  name: string;
  paused: boolean | null;
  limit: number | null;
  /** Limits across nodes set at run time (a QueueLimitsChange as JSON, checked by its reader); null: none. */
  limits: Record<string, unknown> | null;
}

/** Typed functions over the cluster statements (cluster-statements.ts). */
export class ClusterStore {
  constructor(
    readonly db: Database,
    readonly sql: ClusterStatements,
  ) {}

  /** Takes or renews the leader lease ($ttl ms) if node's own row is alive; true: node holds it now. */
  async bidForLease(node: string, ttl: number): Promise<boolean> {
    const [row] = await this.db.query<{ leader: boolean }>(this.sql.bidForLease, [node, ttl]);
    return row.leader;
  }

  /** Gives up the lease if this node holds it; true if it did (and the others were told). */
  async resignLeader(node: string, signalPayload: object): Promise<boolean> {
    const rows = await this.db.query(this.sql.resignLeader, [node, JSON.stringify(signalPayload)]);
    return rows.length > 0;
  }

  async rescueJobs(leader: string, nodeTtl: number, limit: number, sweepAfter: number): Promise<RescueCount[]> {
    return this.db.query<RescueCount>(this.sql.rescueJobs, [leader, nodeTtl, limit, sweepAfter]);
  }

  /** Puts back one batch of the jobs an earlier process under this node's name left executing. */
  async rescueOwnJobs(node: string, limit: number): Promise<RescueCount[]> {
    return this.db.query<RescueCount>(this.sql.rescueOwnJobs, [node, limit]);
  }

  /** Deletes one batch; returns how many rows went. */
  async pruneJobs(maxAgeSeconds: number, limit: number): Promise<number> {
    const [row] = await this.db.query<{ deleted: number }>(this.sql.pruneJobs, [maxAgeSeconds, limit]);
    return row.deleted;
  }

  async registerCrons(names: string[], since: Date): Promise<void> {
    if (names.length > 0) await this.db.query(this.sql.registerCrons, [names, since.toISOString()]);
  }

  /** Inserts the job of one cron slot unless that slot was taken; returns the job id or null. */
  async insertCronJob(name: string, slot: Date, leader: string, row: InsertRow): Promise<number | null> {
    const [inserted] = await this.db.query<{ id: string }>(this.sql.insertCronJob, [
      name,
      slot.toISOString(),
      leader,
      JSON.stringify([row]),
    ]);
    return inserted ? Number(inserted.id) : null;
  }

  async setQueueState(
    queue: string,
    change: { paused?: boolean; limit?: number; limits?: QueueLimitsChange },
    signal: object,
  ): Promise<void> {
    await this.db.query(this.sql.setQueueState, [
      queue,
      change.paused ?? null,
      change.limit ?? null,
      JSON.stringify(signal),
      change.limits ? JSON.stringify(change.limits) : null,
    ]);
  }

  async queueStates(queues: string[]): Promise<StoredQueueState[]> {
    if (queues.length === 0) return [];
    return this.db.query<StoredQueueState>(this.sql.queueStates, [queues]);
  }

  async liveQueues(): Promise<string[]> {
    const rows = await this.db.query<{ queue: string }>(this.sql.liveQueues);
    return rows.map((r) => r.queue);
  }

  /** Stores `node`'s worker processes in its row (when they changed), for every node's dashboard. */
  async reportProcesses(node: string, processes: readonly object[]): Promise<void> {
    await this.db.query(this.sql.reportProcesses, [node, JSON.stringify(processes)]);
  }

  /** The node holding the leader lease now, or null when none does. */
  async currentLeader(): Promise<string | null> {
    const [row] = await this.db.query<{ node: string }>(this.sql.currentLeader);
    return row?.node ?? null;
  }

  /** Age in ms of the oldest due `available` job of each of `queues` that has one. */
  async backlogAges(queues: string[]): Promise<Map<string, number>> {
    if (queues.length === 0) return new Map();
    const rows = await this.db.query<{ queue: string; age_ms: number }>(this.sql.backlogAges, [queues]);
    return new Map(rows.map((r) => [r.queue, Math.max(0, Number(r.age_ms))]));
  }

  /**
   * Jobs per state and queue. Exact (one GROUP BY) while the planner puts the
   * table at `estimateAbove` rows or fewer; above, the planner's estimate of
   * each state of each queue (EXPLAIN only: no job row is read), as Oban's
   * count estimates. States with no job are left out of the exact counts.
   */
  async jobCounts(estimateAbove: number): Promise<JobCounts> {
    const total = planRows(await this.db.query(this.sql.estimateJobs));
    if (total <= estimateAbove) {
      const rows = await this.db.query<JobCount>(this.sql.countJobs);
      return { estimated: false, total, counts: rows.map((r) => ({ ...r, count: Number(r.count) })) };
    }
    const queues = (await this.db.query<{ queue: string }>(this.sql.estimateQueues)).map((r) => r.queue);
    const counts: JobCount[] = [];
    for (const queue of queues) {
      for (const state of JOB_STATES) {
        const count = planRows(await this.db.query(this.sql.estimateJobCount, [state, queue]));
        counts.push({ state, queue, count });
      }
    }
    return { estimated: true, total, counts };
  }
}

/** Jobs of one state in one queue. */
export interface JobCount {
  state: JobState;
  queue: string;
  count: number;
}

export interface JobCounts {
  /** True when the counts are the planner's estimates (the table is above the threshold). */
  estimated: boolean;
  /** The planner's estimate of the table's rows, which chose the path. */
  total: number;
  counts: JobCount[];
}

/** The top node's row estimate of an `EXPLAIN (FORMAT JSON)` answer. */
function planRows(rows: unknown[]): number {
  const cell = (rows[0] as Record<string, unknown>)['QUERY PLAN'];
  const plan = typeof cell === 'string' ? JSON.parse(cell) : cell;
  return Math.round(Number((plan as Array<{ Plan: { 'Plan Rows': number } }>)[0].Plan['Plan Rows']));
}

/** The statements of a node's own row and name (handed to the heartbeat thread as they are). */
export type NodeRowStatements = Pick<ClusterStatements, 'beatNode' | 'takeNodeName' | 'nodeAlive' | 'removeNode'>;

/**
 * A node's own row and name, over one connection: the heartbeat's (its own
 * session, on its own thread where it can), so the name's advisory lock lives
 * exactly as long as that session.
 */
export class NodeRows {
  constructor(
    private readonly db: Queryable,
    private readonly sql: NodeRowStatements,
  ) {}

  /**
   * Renews the node's row. `streakBreak` ms: a beat later than that after
   * the previous one starts a new unbroken run (as does the `first` beat).
   * Returns true when the row had expired (the node may have been taken for dead).
   */
  async beat(node: string, advert: NodeAdvert, ttl: number, streakBreak: number, first: boolean): Promise<boolean> {
    const [row] = await this.db.query<{ lapsed: boolean }>(this.sql.beatNode, [
      node,
      advert.queues,
      advert.workers,
      ttl,
      streakBreak,
      first,
    ]);
    return row.lapsed;
  }

  /** Takes the node's name for this session; false: another session holds it. */
  async takeName(node: string): Promise<boolean> {
    const [row] = await this.db.query<{ taken: boolean }>(this.sql.takeNodeName, [node]);
    return row.taken;
  }

  async alive(node: string): Promise<boolean> {
    const [row] = await this.db.query<{ alive: boolean }>(this.sql.nodeAlive, [node]);
    return row.alive;
  }

  /** A node leaving after its jobs are done: its row goes, so it is not taken for dead. */
  async remove(node: string): Promise<void> {
    await this.db.query(this.sql.removeNode, [node]);
  }
}
