import type { HeartbeatEvent, JoinResult } from './node-heartbeat';

/** A node's liveness, wherever its heartbeat runs. */
export interface NodeLiveness {
  /** Takes the node's name and writes its first heartbeat (see NodeHeartbeat.join); throws if it cannot. */
  join(): Promise<JoinResult>;
  /** Stops beating; if the node joined, removes its row and lets its name go. */
  stop(): Promise<void>;
}

/** Where heartbeat events go (the main thread's log). */
export type HeartbeatListener = (event: HeartbeatEvent) => void;
