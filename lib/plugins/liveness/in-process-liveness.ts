import type { NodeRows } from '../../store/cluster-store';
import type { HeartbeatListener, NodeLiveness } from './liveness';
import { type HeartbeatSettings, type JoinResult, NodeHeartbeat } from './node-heartbeat';

/**
 * The heartbeat on the main loop: for embedded PGlite (one process, whose
 * database runs on this loop anyway), and for a Postgres connection whose
 * settings cannot be handed to a thread.
 */
export class InProcessLiveness implements NodeLiveness {
  private readonly heartbeat: NodeHeartbeat;

  constructor(
    rows: NodeRows,
    session: () => number,
    settings: HeartbeatSettings,
    listener: HeartbeatListener,
    private readonly closeConnection: () => Promise<void> = async () => undefined,
  ) {
    this.heartbeat = new NodeHeartbeat(rows, session, settings, listener);
  }

  join(): Promise<JoinResult> {
    return this.heartbeat.join();
  }

  async stop(): Promise<void> {
    try {
      await this.heartbeat.stop();
    } finally {
      await this.closeConnection();
    }
  }
}
