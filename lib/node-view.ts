import type { TestingMode } from './config/options';
import type { PoolProcessStats } from './pool/protocol/stats';
import type { JobCounts } from './store/cluster-store';
import type { PartitionState, QueuePartition, RateLimit } from './store/limited-claim';

/** What a queue looks like on this node, as `Oban.checkQueue` reports it. */
export interface QueueState {
  queue: string;
  limit: number;
  paused: boolean;
  /** Jobs of this queue running on this node now. */
  running: number;
  /**
   * Jobs claimed ahead of the free slots, waiting here to start (a queue of
   * short jobs keeps a few ms of work at hand; see "Throughput" in the README).
   */
  claimedAhead: number;
  /** At most this many jobs of the queue (of each partition) run at once on all nodes; unset: no such limit. */
  globalLimit?: number;
  /**
   * With a global limit alone: the share of it this node holds now, at most
   * this many of the queue's jobs run here at once (README, "Global, rate and
   * partitioned limits"). Unset otherwise.
   */
  globalShare?: number;
  /** At most `allowed` starts (per partition) in any `period` seconds on all nodes; unset: no such limit. */
  rateLimit?: RateLimit;
  /** What the global and rate limits apply to, each part on its own; unset: the whole queue. */
  partition?: QueuePartition;
}

/** A queue's limits across nodes and where each partition stands, as `Oban.checkLimits` reports it. */
export interface QueueLimitsState {
  queue: string;
  globalLimit?: number;
  rateLimit?: RateLimit;
  partition?: QueuePartition;
  /** Every partition with executing or available jobs or starts in the rate window ('' the whole queue when unpartitioned). */
  partitions: PartitionState[];
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
  /** No LISTEN by design (a transaction pooler without directConnection): the poll wakes the queues. */
  pollOnly?: boolean;
  /** Ms since the node's heartbeat last succeeded, or null before the first. */
  heartbeatAge: number | null;
  nodeTtl: number;
  /** The queues this node runs. */
  queues: string[];
}

/** What the `Oban` service, and the health checks, may ask of this node's runtime. */
export interface NodeView {
  queueState(queue: string): QueueState | null;
  /** The queue's limits and its partitions across nodes (one read), or null if this node does not run it. */
  queueLimits(queue: string): Promise<QueueLimitsState | null>;
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
