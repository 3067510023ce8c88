import type { Logger } from '@nestjs/common';
import type { ClusterConfig } from '../config/cluster-config';
import type { ClusterStore } from '../store/cluster-store';
import { Retry } from '../util/retry';
import type { LeaderView } from './plugin';

/** Reported on every beat that holds the lease, and when this node lets it go. */
export interface LeadershipChange {
  node: string;
  leader: boolean;
  /** Local epoch ms this tenure began (when leader). */
  since?: number;
  /**
   * Local epoch ms until which this node acts as leader: the end of the lease
   * it just renewed, or the moment it let go.
   */
  until: number;
}

/**
 * The node's heartbeat, which is also its bid for leadership: one statement
 * per interval renews the node's row and takes or renews the leader lease.
 *
 * The node counts itself leader only until `sent + leaderTtl - margin`, where
 * `sent` is when it sent its last successful renewal (on the monotonic clock). The database set the
 * lease's expiry to `now() + leaderTtl` with its `now()` taken after `sent`,
 * and another node can take the lease only once that expiry has passed: so a
 * leader that stalls or loses the database stops acting before anyone else
 * can start, and there are never two leaders at once.
 */
export class Peer implements LeaderView {
  /** The lease window on the monotonic clock: a wall-clock step (NTP) must never stretch it. */
  private leaseEnds = 0;
  /** The same moment in epoch ms, for reports that are compared across processes. */
  private leaderUntil = 0;
  private leaderSince = 0;
  private wantsLeader: boolean;
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private readonly retry: Retry;
  private readonly margin: number;
  private readonly electedHandlers: Array<() => void> = [];
  private readonly changeHandlers: Array<(change: LeadershipChange) => void> = [];

  constructor(
    private readonly cluster: ClusterStore,
    readonly node: string,
    private readonly config: ClusterConfig,
    private readonly advert: () => { queues: string[]; workers: string[] },
    private readonly logger: Logger,
  ) {
    this.wantsLeader = config.leader;
    this.margin = Math.max(50, Math.round(config.leaderTtl / 10));
    this.retry = new Retry(
      `heartbeat of node ${node} (after nodeTtl, ${config.nodeTtl} ms, its jobs count as orphaned)`,
      logger,
    );
  }

  get isLeader(): boolean {
    return performance.now() < this.leaseEnds;
  }

  /** This node's leadership now: since when it leads and until when its lease lets it act. */
  get leadership(): LeadershipChange {
    return this.isLeader
      ? { node: this.node, leader: true, since: this.leaderSince, until: this.leaderUntil }
      : { node: this.node, leader: false, until: Date.now() };
  }

  onElected(handler: () => void): void {
    this.electedHandlers.push(handler);
  }

  onChange(handler: (change: LeadershipChange) => void): void {
    this.changeHandlers.push(handler);
  }

  /** Writes the node's row (and bids for the lease) before the node claims any job; throws if it cannot. */
  async start(): Promise<void> {
    this.stopped = false;
    try {
      await this.beatOnce(true);
    } catch (error) {
      this.stopped = true;
      throw new Error(`node ${this.node} could not write its first heartbeat: ${(error as Error).message}`);
    }
    this.schedule();
  }

  /** Beats now, out of turn: the leader resigned, so try to take over at once. */
  beatSoon(): void {
    if (this.stopped) return;
    if (this.beating) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.tick(), 0);
  }

  /**
   * Stops acting as leader and hands the lease on (shutdown begins); the node
   * keeps beating so the jobs it is finishing are not rescued.
   */
  async resignLeadership(): Promise<void> {
    this.wantsLeader = false;
    await this.beating;
    const wasLeader = this.leaderUntil > 0;
    this.lose();
    try {
      if (await this.cluster.resignLeader(this.node, { action: 'leader', resigned: this.node })) {
        this.logger.log(`node ${this.node} gave up leadership`);
      }
    } catch (error) {
      if (wasLeader)
        this.logger.warn(`giving up leadership failed (it expires by itself): ${(error as Error).message}`);
    }
  }

  /** Stops beating and removes the node's row (its jobs are done or left for rescue). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    await this.beating;
    if (this.leaderUntil > 0) await this.resignLeadership();
    try {
      await this.cluster.removeNode(this.node);
    } catch (error) {
      this.logger.warn(`removing node ${this.node} failed (it expires by itself): ${(error as Error).message}`);
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.tick(), this.config.heartbeatInterval);
  }

  private tick(): void {
    this.timer = undefined;
    this.beating = this.beatOnce(false)
      // Reported by the one retry policy, but the next beat keeps its interval: the node's row must stay fresh.
      .catch((error) => {
        this.retry.failed(error);
      })
      .finally(() => {
        this.beating = undefined;
        if (this.again) {
          this.again = false;
          this.beatSoon();
        } else {
          this.schedule();
        }
      });
  }

  private async beatOnce(first: boolean): Promise<void> {
    const sent = performance.now();
    const sentAt = Date.now();
    const result = await this.cluster.heartbeat(
      this.node,
      this.advert(),
      { node: this.config.nodeTtl, leader: this.config.leaderTtl },
      this.wantsLeader,
    );
    this.retry.succeeded();
    if (result.lapsed && !first) {
      this.logger.warn(
        `node ${this.node} went more than nodeTtl (${this.config.nodeTtl} ms) without a heartbeat; ` +
          `the leader may have rescued jobs still running here, which can then run twice`,
      );
    }
    if (!result.leader || !this.wantsLeader) {
      if (this.leaderUntil > 0) this.lose();
      return;
    }
    const wasLeader = this.isLeader;
    const lease = this.config.leaderTtl - this.margin;
    if (sent + lease <= performance.now()) {
      // The renewal took so long that the lease it bought is already (nearly) over.
      this.lose();
      return;
    }
    this.leaseEnds = sent + lease;
    this.leaderUntil = sentAt + lease;
    if (!wasLeader) {
      this.leaderSince = Date.now();
      this.logger.log(`node ${this.node} is now leader`);
    }
    this.emit({ node: this.node, leader: true, since: this.leaderSince, until: this.leaderUntil });
    if (!wasLeader) for (const handler of this.electedHandlers) handler();
  }

  private lose(): void {
    if (this.leaderUntil === 0) return;
    const until = Math.min(Date.now(), this.leaderUntil);
    this.leaderUntil = 0;
    this.leaseEnds = 0;
    this.emit({ node: this.node, leader: false, until });
  }

  private emit(change: LeadershipChange): void {
    for (const handler of this.changeHandlers) handler(change);
  }
}
