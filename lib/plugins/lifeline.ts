import type { Plugin, PluginContext } from './plugin';
import { Ticker } from '../util/ticker';

const BATCH = 1_000;

/**
 * Leader only, every heartbeat interval: puts back the jobs that dead nodes
 * left `executing` (see `rescueJobs` in cluster-statements.ts). Rescue is by
 * liveness, never by how long a job has run, so a long job on a live node is
 * never started a second time.
 */
export class Lifeline implements Plugin {
  readonly name = 'lifeline';
  private ticker: Ticker | undefined;

  start(ctx: PluginContext): void {
    const { config, cluster, peer, logger } = ctx;
    const { nodeTtl, heartbeatInterval } = config.cluster;
    // Rows of nodes gone for this long are dropped; their jobs were rescued long before.
    const sweepAfter = Math.max(60_000, 10 * nodeTtl);
    this.ticker = new Ticker(
      'rescuing orphaned jobs',
      heartbeatInterval,
      async () => {
        while (peer.isLeader) {
          const counts = await cluster.rescueJobs(peer.node, nodeTtl, BATCH, sweepAfter);
          let total = 0;
          for (const { queue, available, discarded } of counts) {
            total += available + discarded;
            logger.warn(
              `rescued ${available + discarded} job(s) of queue '${queue}' left executing by a dead node: ` +
                `${available} made available again, ${discarded} discarded (no attempts left)`,
            );
          }
          if (total < BATCH) break;
        }
      },
      logger,
    );
    this.ticker.start();
    peer.onElected(() => this.ticker?.poke());
  }

  async stop(): Promise<void> {
    await this.ticker?.stop();
  }
}
