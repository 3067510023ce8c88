import type { PoolProcessStats } from './pool/protocol/stats';

/** What a queue looks like on this node, as `Oban.checkQueue` reports it. */
export interface QueueState {
  queue: string;
  limit: number;
  paused: boolean;
  /** Jobs of this queue running on this node now. */
  running: number;
}

/** What the `Oban` service may ask of this node's runtime. */
export interface NodeView {
  queueState(queue: string): QueueState | null;
  poolStats(): Promise<PoolProcessStats[]>;
  /** This node holds the cluster's leader lease now. */
  readonly isLeader: boolean;
}
