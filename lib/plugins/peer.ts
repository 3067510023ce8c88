import type { Logger } from '@nestjs/common';
import type { ClusterConfig } from '../config/cluster-config';
import { ObanConfigError } from '../errors';
import { ObanEvents } from '../events/oban-events';
import type { ClusterStore, NodeAdvert } from '../store/cluster-store';
import { Retry } from '../util/retry';
import { rescueJobsOfEarlierRun } from './lifeline';
import { createLiveness } from './liveness/create-liveness';
import { heartbeatLog } from './liveness/heartbeat-log';
import type { HeartbeatListener, NodeLiveness } from './liveness/liveness';
import type { JoinResult } from './liveness/node-heartbeat';
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
 * The node's place in the cluster. Its liveness (its name and its row in
 * `oban_nodes`) is kept by a heartbeat of its own, on a thread where it can
 * (see liveness/). Its bid for leadership runs here, on the main loop, once
 * per interval: a node whose loop is blocked lets the lease go, since it
 * could not act as leader anyway.
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
  private bidding: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private liveness: NodeLiveness | undefined;
  /** The node holds its name and its row is written: only then is there anything of its own to give up. */
  private joined = false;
  private readonly retry: Retry;
  private readonly margin: number;
  private readonly electedHandlers: Array<() => void> = [];
  private readonly changeHandlers: Array<(change: LeadershipChange) => void> = [];
  /** When (monotonic ms) the node's heartbeat last succeeded, or undefined before the first. */
  private lastBeat: number | undefined;

  constructor(
    private readonly cluster: ClusterStore,
    readonly node: string,
    private readonly config: ClusterConfig,
    private readonly advert: () => NodeAdvert,
    private readonly logger: Logger,
    private readonly events: ObanEvents = new ObanEvents(node),
  ) {
    this.wantsLeader = config.leader;
    this.margin = Math.max(50, Math.round(config.leaderTtl / 10));
    this.retry = new Retry(`bidding for the leader lease (node ${node})`, logger);
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

  /** Ms since the node's heartbeat last succeeded (its row renewed), or null before the first. */
  get heartbeatAge(): number | null {
    return this.lastBeat === undefined ? null : performance.now() - this.lastBeat;
  }

  onElected(handler: () => void): void {
    this.electedHandlers.push(handler);
  }

  onChange(handler: (change: LeadershipChange) => void): void {
    this.changeHandlers.push(handler);
  }

  /**
   * Before the node claims any job: takes its name (refusing to start when a
   * live process has it), writes its row, puts back what an earlier process
   * of the same name left running, and bids for the lease. Throws if it cannot.
   */
  async start(): Promise<void> {
    this.stopped = false;
    const { heartbeatInterval, nodeTtl } = this.config;
    const settings = { node: this.node, advert: this.advert(), heartbeatInterval, nodeTtl };
    const log = heartbeatLog(this.node, nodeTtl, this.logger);
    const listener: HeartbeatListener = (event) => {
      if (event.type === 'beat') this.lastBeat = performance.now();
      log(event);
    };
    this.liveness = createLiveness(this.cluster, settings, listener, this.logger);
    let joined: JoinResult;
    try {
      joined = await this.liveness.join();
      if (joined === 'joined') {
        this.joined = true;
        await rescueJobsOfEarlierRun(this.cluster, this.node, this.logger, this.events);
        await this.bidOnce();
      }
    } catch (error) {
      await this.abandon();
      const why = (error as Error).message;
      throw new Error(`node ${this.node} could not join the cluster (heartbeat, rescue, lease): ${why}`);
    }
    if (joined === 'name-taken') {
      await this.abandon();
      throw new ObanConfigError(
        `ObanModule: node '${this.node}' is already running in another live process (it holds the name ` +
          `and its heartbeat is fresh); give each process its own \`node\`, ` +
          `or leave it unset (the default is unique per process)`,
      );
    }
    this.schedule();
  }

  /** Bids now, out of turn: the leader resigned, so try to take over at once. */
  beatSoon(): void {
    if (this.stopped) return;
    if (this.bidding) {
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
    // A node that never joined must not touch the lease: under its name it may be another process's.
    if (!this.joined) return;
    this.wantsLeader = false;
    await this.bidding;
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

  /** Stops bidding and beating and removes the node's row (its jobs are done or left for rescue). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    await this.bidding;
    if (this.leaderUntil > 0) await this.resignLeadership();
    await this.stopLiveness();
  }

  /** A start that failed: nothing of the node's is left behind, and nothing of another's is touched. */
  private async abandon(): Promise<void> {
    this.stopped = true;
    await this.stopLiveness();
    this.joined = false;
  }

  private async stopLiveness(): Promise<void> {
    try {
      await this.liveness?.stop();
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
    this.bidding = this.bidOnce()
      // Reported by the one retry policy, but the next bid keeps its interval: a leader's lease must stay fresh.
      .catch((error) => {
        this.retry.failed(error);
      })
      .finally(() => {
        this.bidding = undefined;
        if (this.again) {
          this.again = false;
          this.beatSoon();
        } else {
          this.schedule();
        }
      });
  }

  private async bidOnce(): Promise<void> {
    if (!this.wantsLeader) {
      if (this.leaderUntil > 0) this.lose();
      return;
    }
    const sent = performance.now();
    const sentAt = Date.now();
    const leader = await this.cluster.bidForLease(this.node, this.config.leaderTtl);
    this.retry.succeeded();
    if (!leader || !this.wantsLeader) {
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
      if (this.events.has('leader.elected')) {
        this.events.emit('leader.elected', { node: this.node, since: this.leaderSince });
      }
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
    if (this.events.has('leader.resigned')) this.events.emit('leader.resigned', { node: this.node, until });
  }

  private emit(change: LeadershipChange): void {
    for (const handler of this.changeHandlers) handler(change);
  }
}
