import type { TestingMode } from './config/options';
import type { PoolProcessStats } from './pool/protocol/stats';
import type { JobCounts } from './store/cluster-store';

/** What a queue looks like on this node, as `Oban.checkQueue` reports it. */
export interface QueueState {
  queue: string;
  limit: number;
  paused: boolean;
  /** Jobs of this queue running on this node now. */
  running: number;
}

/** What a health check (nest-oban/health) reads of this node, at once and without I/O. */
export interface NodeHealth {
  node: string;
  /** A testing mode runs no queues on this node: then the rest tells nothing. */
  testing: TestingMode;
  /** `db.kind`: `none` has nothing to reach (testing: 'inline' without a connection). */
  database: 'postgres' | 'pglite' | 'none';
  /** The node runs its queues: started, and not shutting down. */
  running: boolean;
  /** The LISTEN connection is up now. */
  listening: boolean;
  /** Ms since the node's heartbeat last succeeded, or null before the first. */
  heartbeatAge: number | null;
  nodeTtl: number;
  /** The queues this node runs. */
  queues: string[];
}

/** What the `Oban` service, and the health checks, may ask of this node's runtime. */
export interface NodeView {
  queueState(queue: string): QueueState | null;
  poolStats(): Promise<PoolProcessStats[]>;
  /** This node holds the cluster's leader lease now. */
  readonly isLeader: boolean;
  health(): NodeHealth;
  /** One round trip (`SELECT 1 AS ping`) through the node's own database. */
  pingDatabase(): Promise<void>;
  /** The node holding the leader lease now (any node's), or null. */
  currentLeader(): Promise<string | null>;
  /** Age in ms of the oldest due `available` job of each of `queues` that has one. */
  backlogAges(queues: string[]): Promise<Map<string, number>>;
  /** Jobs per state and queue, cluster-wide: exact up to `estimateAbove` rows, the planner's estimates above (nest-oban/metrics). */
  jobCounts(estimateAbove: number): Promise<JobCounts>;
}
