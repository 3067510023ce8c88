import type { Database } from '../db/database';
import type { ClusterStatements } from '../db/cluster-statements';
import type { InsertRow } from './job-store';

export interface HeartbeatResult {
  /** This node holds the leader lease. */
  leader: boolean;
  /** This node's row had expired before this beat: it may have been taken for dead. */
  lapsed: boolean;
}

export interface RescueCount {
  queue: string;
  available: number;
  discarded: number;
}

/** Queue state remembered in `oban_queues`; null fields defer to the node's config. */
export interface StoredQueueState {
  name: string;
  paused: boolean | null;
  limit: number | null;
}

/** Typed functions over the cluster statements (cluster-statements.ts). */
export class ClusterStore {
  constructor(
    readonly db: Database,
    readonly sql: ClusterStatements,
  ) {}

  async heartbeat(
    node: string,
    advert: { queues: string[]; workers: string[] },
    ttl: { node: number; leader: number },
    wantsLeader: boolean,
  ): Promise<HeartbeatResult> {
    const [row] = await this.db.query<HeartbeatResult>(this.sql.heartbeat, [
      node,
      advert.queues,
      advert.workers,
      ttl.node,
      ttl.leader,
      wantsLeader,
    ]);
    return { leader: row.leader, lapsed: row.lapsed };
  }

  /** Gives up the lease if this node holds it; true if it did (and the others were told). */
  async resignLeader(node: string, signalPayload: object): Promise<boolean> {
    const rows = await this.db.query(this.sql.resignLeader, [node, JSON.stringify(signalPayload)]);
    return rows.length > 0;
  }

  async removeNode(node: string): Promise<void> {
    await this.db.query(this.sql.removeNode, [node]);
  }

  async rescueJobs(leader: string, nodeTtl: number, limit: number, sweepAfter: number): Promise<RescueCount[]> {
    return this.db.query<RescueCount>(this.sql.rescueJobs, [leader, nodeTtl, limit, sweepAfter]);
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

  async setQueueState(queue: string, change: { paused?: boolean; limit?: number }, signal: object): Promise<void> {
    await this.db.query(this.sql.setQueueState, [
      queue,
      change.paused ?? null,
      change.limit ?? null,
      JSON.stringify(signal),
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
}
