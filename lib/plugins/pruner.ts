import type { PrunerConfig } from '../config/cluster-config';
import type { Plugin, PluginContext } from './plugin';
import { Ticker } from '../util/ticker';

/**
 * Leader only: deletes finished jobs older than `maxAge`, one bounded batch
 * per statement (each its own short transaction), repeating while batches come
 * back full, so it never holds many row locks or a long transaction.
 */
export class Pruner implements Plugin {
  readonly name = 'pruner';
  private ticker: Ticker | undefined;
  private stopped = false;

  constructor(private readonly settings: PrunerConfig) {}

  start(ctx: PluginContext): void {
    const { cluster, peer, logger } = ctx;
    const { maxAge, interval, limit } = this.settings;
    this.ticker = new Ticker(
      'pruning finished jobs',
      interval,
      async () => {
        let deleted = limit;
        while (deleted === limit && peer.isLeader && !this.stopped) {
          deleted = await cluster.pruneJobs(maxAge, limit);
        }
      },
      logger,
    );
    this.ticker.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.ticker?.stop();
  }
}
