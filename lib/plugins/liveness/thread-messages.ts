import type { ClientConfig } from 'pg';
import type { NodeRowStatements } from '../../store/cluster-store';
import type { HeartbeatEvent, HeartbeatSettings } from './node-heartbeat';

/** What the heartbeat thread is started with (structured-cloned, so plain data only). */
export interface HeartbeatThreadData {
  connection: ClientConfig;
  statements: NodeRowStatements;
  settings: HeartbeatSettings;
}

/** The main thread asks the heartbeat thread to stop: it removes the node's row and ends its connection. */
export interface StopCommand {
  cmd: 'stop';
}

/** What the heartbeat thread posts to the main thread. */
export type HeartbeatThreadMessage =
  | HeartbeatEvent
  | { type: 'joined' }
  | { type: 'name-taken' }
  | { type: 'join-failed'; message: string }
  | { type: 'stopped'; error?: string };
