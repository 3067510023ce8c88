import type { Logger } from '@nestjs/common';
import type { LifelineRescueEvent } from '../events/events';
import type { ObanEvents } from '../events/oban-events';
import type { ClusterStore, RescueCount } from '../store/cluster-store';
import { Ticker } from '../util/ticker';
import type { Plugin, PluginContext } from './plugin';

const BATCH = 1_000;

/**
 * Leader only, every heartbeat interval: puts back the jobs that dead nodes
 * left `executing` (see `rescueJobs` in cluster-statements.ts). Rescue is by
 * liveness, never by how long a job has run, so a long job on a live node is
 * never started a second time; and only once the leader itself has been
 * beating without a break for a nodeTtl, so after an outage every node gets
 * the time to beat again before its jobs count as orphaned.
 */
export class Lifeline implements Plugin {
  readonly name = 'lifeline';
  private ticker: Ticker | undefined;

  start(ctx: PluginContext): void {
    const { config, cluster, peer, logger, events } = ctx;
    const { nodeTtl, heartbeatInterval } = config.cluster;
    // Rows of nodes gone for this long are dropped; their jobs were rescued long before.
    const sweepAfter = Math.max(60_000, 10 * nodeTtl);
    this.ticker = new Ticker(
      'rescuing orphaned jobs',
      heartbeatInterval,
      () =>
        rescueInBatches(
          () => cluster.rescueJobs(peer.node, nodeTtl, BATCH, sweepAfter),
          'left executing by a dead node',
          logger,
          { events, node: peer.node, reason: 'dead-node' },
          () => peer.isLeader,
        ),
      logger,
    );
    this.ticker.start();
    peer.onElected(() => this.ticker?.poke());
  }

  async stop(): Promise<void> {
    await this.ticker?.stop();
  }
}

/**
 * At boot, once the node holds its name (no other live process has it): puts
 * back the jobs an earlier process under that name left `executing`. Killed
 * and restarted within nodeTtl, its row never expired, so the lifeline would
 * never take them.
 */
export function rescueJobsOfEarlierRun(
  cluster: ClusterStore,
  node: string,
  logger: Logger,
  events: ObanEvents,
): Promise<void> {
  return rescueInBatches(
    () => cluster.rescueOwnJobs(node, BATCH),
    `left executing by an earlier process of node ${node} (it restarted)`,
    logger,
    { events, node, reason: 'restart' },
  );
}

/** Where a rescue is reported as `lifeline.rescue`. */
interface RescueReport {
  events: ObanEvents;
  node: string;
  reason: LifelineRescueEvent['reason'];
}

/** Runs one rescue statement while its batches come back full, and logs what each put back. */
async function rescueInBatches(
  rescue: () => Promise<RescueCount[]>,
  whose: string,
  logger: Logger,
  report: RescueReport,
  allowed: () => boolean = () => true,
): Promise<void> {
  while (allowed()) {
    let total = 0;
    for (const { queue, node: from, available, discarded } of await rescue()) {
      total += available + discarded;
      const { events, node, reason } = report;
      if (events.has('lifeline.rescue')) {
        const count = available + discarded;
        events.emit('lifeline.rescue', { node, from, reason, queue, count, available, discarded });
      }
      logger.warn(
        `rescued ${available + discarded} job(s) of queue '${queue}' ${whose}: ` +
          `${available} made available again, ${discarded} discarded (no attempts left)`,
      );
    }
    if (total < BATCH) return;
  }
}
