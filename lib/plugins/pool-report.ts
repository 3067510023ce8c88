import type { PoolProcessStats } from '../pool/protocol/stats';
import type { ClusterStore } from '../store/cluster-store';
import { Ticker } from '../util/ticker';
import type { Plugin, PluginContext } from './plugin';

/**
 * Every node writes its worker processes (pid, ready, jobs held, memory) into
 * its own `oban_nodes` row each heartbeat interval, so a dashboard served by
 * any node shows every node's pool. A node without a pool writes `[]` once.
 * Memory is rounded to the MiB, so an idle pool rarely rewrites its row.
 */
export class PoolReport implements Plugin {
  readonly name = 'pool-report';
  private ticker: Ticker | undefined;

  constructor(private readonly stats: () => Promise<PoolProcessStats[]>) {}

  async start(ctx: PluginContext): Promise<void> {
    const report = () => this.report(ctx.cluster, ctx.config.node);
    this.ticker = new Ticker(
      "reporting this node's worker processes",
      ctx.config.cluster.heartbeatInterval,
      report,
      ctx.logger,
    );
    await report().catch(() => undefined); // the ticker's retry reports a failure that lasts
    this.ticker.start();
  }

  async stop(): Promise<void> {
    await this.ticker?.stop();
  }

  private async report(cluster: ClusterStore, node: string): Promise<void> {
    const processes = (await this.stats()).map((p) => ({ ...p, rss: p.rss === null ? null : roundMiB(p.rss) }));
    await cluster.reportProcesses(node, processes);
  }
}

function roundMiB(bytes: number): number {
  return Math.round(bytes / 1048576) * 1048576;
}
