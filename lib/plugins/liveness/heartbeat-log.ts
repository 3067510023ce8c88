import type { Logger } from '@nestjs/common';
import { Retry } from '../../util/retry';
import type { HeartbeatListener } from './liveness';

/** Puts what the node's heartbeat reports (from its thread or not) in the node's log. */
export function heartbeatLog(node: string, nodeTtl: number, logger: Logger): HeartbeatListener {
  const retry = new Retry(
    `heartbeat of node ${node} (after nodeTtl, ${nodeTtl} ms, its jobs count as orphaned)`,
    logger,
  );
  return (event) => {
    if (event.type === 'beat') {
      retry.succeeded();
      if (event.lapsed && !event.first) {
        logger.warn(
          `node ${node} went more than nodeTtl (${nodeTtl} ms) without a heartbeat; ` +
            `the leader may have rescued jobs still running here, which can then run twice`,
        );
      }
    } else if (event.type === 'beat-failed') {
      retry.failed(new Error(event.message));
    } else if (event.type === 'name-stale') {
      logger.warn(
        `node ${node}: a database session that no longer heartbeats holds this node name (a crashed host?); ` +
          `started without it, and takes it once that session ends`,
      );
    } else {
      logger.error(
        `node ${node}: after a reconnect another live process holds this node name; ` +
          `give each process its own \`node\``,
      );
    }
  };
}
