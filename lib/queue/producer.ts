import type { Logger } from '@nestjs/common';
import type { Job } from '../job';
import type { PgJobStore } from '../store/pg-job-store';
import {
  type LimitedClaims,
  type QueueLimits,
  type QueueLimitsChange,
  applyLimitsChange,
  isLimited,
} from '../store/limited-claim';
import type { LimitShares } from '../store/limit-shares';
import { Retry } from '../util/retry';
import type { Acker } from './acker';
import { ClaimAhead, HORIZON_MS, MAX_HOLD_MS } from './claim-ahead';
import type { Executor } from './executor';
import { GlobalShare } from './global-share';
import { toAckRow } from './outcome';

export interface ProducerDeps {
  store: PgJobStore;
  executor: Executor;
  acker: Acker;
  node: string;
  logger: Logger;
  /** The claims of queues with a rate limit or partitions (limited-claim.ts). */
  limited?: LimitedClaims;
  /** The shares of queues with a global limit alone (global-share.ts). */
  shares?: LimitShares;
}

/**
 * Runs one queue on this node within its limit. It claims jobs when woken (an
 * insert notification, the stager's poll, a freed slot): as many as there are
 * free slots, plus, for a queue of short jobs, some ahead (see claim-ahead.ts)
 * into a local buffer, so a freed slot starts its next job without a round
 * trip. Jobs claimed ahead are `executing` under this node's name, so they are
 * rescued with it; they go back without costing an attempt when the queue
 * pauses, scales down or stops, when its rate falls, and after MAX_HOLD_MS
 * unstarted. Wake-ups that
 * arrive while a claim is under way are folded into the next one.
 *
 * A queue with a global limit alone runs at most its share of it on this
 * node (global-share.ts) and otherwise claims as above. A queue with a rate
 * limit or partitions claims differently (limited-claim.ts): what it asks for,
 * capped by what its limits leave, under the queue's lock. Partitioned with a
 * global limit alone it claims ahead too: a held job is `executing`, so it
 * counts against the global limit as a running one does (fewer may run, never
 * more), and held jobs go back as soon as the rate falls. With a rate limit it
 * claims exactly its free slots, since a claim counts as a start. Its claim
 * counts this node's finished jobs whose outcome is not written yet as not
 * running, so a freed slot is taken at once here; a full rate window is
 * claimed from again when its oldest start leaves it.
 */
export class Producer {
  private readonly running = new Map<number, Promise<void>>();
  /** Claimed ahead, not started yet, oldest first, with when the claim returned (performance.now()). */
  private readonly ahead: Array<{ job: Job; claimedAt: number }> = [];
  private readonly claimAhead = new ClaimAhead();
  private reviewTimer: NodeJS.Timeout | undefined;
  private stopped = true;
  /** The claim under way, if any. */
  private claiming: Promise<void> | undefined;
  private kickScheduled = false;
  /** The queue may hold more jobs than the last claim took. */
  private mayHaveMore = true;
  private readonly retry: Retry;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Limits set at run time (oban_queues.limits, scaleQueue) over the configured ones. */
  private limitOverrides: QueueLimitsChange = {};
  private limitsValue: QueueLimits;
  /** Wakes the queue when its rate window has room again. */
  private windowTimer: NodeJS.Timeout | undefined;
  private windowWakeAt = Infinity;
  /** This node's share of the queue's global limit, once the queue leases one. */
  private leasedShare: GlobalShare | undefined;
  /** Giving the share back (the queue stopped, or stopped leasing). */
  private leaving: Promise<void> | undefined;

  constructor(
    readonly queue: string,
    private limitValue: number,
    private pausedValue: boolean,
    private readonly deps: ProducerDeps,
    private readonly configuredLimits: QueueLimits = {},
  ) {
    this.retry = new Retry(`claiming jobs of queue '${queue}'`, deps.logger);
    this.limitsValue = configuredLimits;
  }

  /** The queue's limits across nodes now: as configured, with run-time changes applied. */
  get limits(): QueueLimits {
    return this.limitsValue;
  }

  /** The queue has a global limit alone: this node runs its share of it, claiming as an unlimited queue does. */
  get leases(): boolean {
    const { globalLimit, rateLimit, partition } = this.limitsValue;
    return this.deps.shares !== undefined && globalLimit !== undefined && !rateLimit && !partition;
  }

  /** The queue claims under its lock, capped by its limits (a rate limit, or partitions, and a store for it). */
  get limited(): boolean {
    return this.deps.limited !== undefined && isLimited(this.limitsValue) && !this.leases;
  }

  /** This node's share of the queue's global limit (a global limit alone); undefined when the queue leases none. */
  get globalShare(): number | undefined {
    return this.leases ? (this.leasedShare?.share ?? 0) : undefined;
  }

  /** How many jobs may run here at once: the queue's limit, and within a global limit this node's share. */
  private get slots(): number {
    return this.leases ? Math.min(this.limitValue, this.share().share) : this.limitValue;
  }

  /** The node's share of the global limit (leases only), made when first needed. */
  private share(): GlobalShare {
    this.leasedShare ??= new GlobalShare(
      this.deps.shares!,
      this.queue,
      this.deps.node,
      () => ({
        globalLimit: this.limitsValue.globalLimit ?? 0,
        wants: this.stopped || this.pausedValue || !this.hasWork ? 0 : this.limitValue,
        running: this.running.size,
      }),
      () => this.wake(),
      this.deps.logger,
    );
    return this.leasedShare;
  }

  /** Jobs run or wait here, or the queue may have some. */
  private get hasWork(): boolean {
    return this.running.size > 0 || this.ahead.length > 0 || this.mayHaveMore;
  }

  /** Gives the share of the global limit back, e.g. as the queue stops leasing; this node's jobs then count as rows. */
  private leaveShare(): void {
    const share = this.leasedShare;
    if (!share) return;
    this.leasedShare = undefined;
    this.leaving = share
      .leave()
      .catch((error: Error) =>
        this.deps.logger.warn(
          `the share of queue '${this.queue}' in its global limit could not be given back (${error.message}); ` +
            `the lifeline frees it once this node is gone`,
        ),
      );
  }

  /** Nodes may be held back by the queue's global limit: each slot that frees here wakes the queue everywhere. */
  get waitsOnOtherNodes(): boolean {
    if (this.limitsValue.globalLimit === undefined) return false;
    // A node that gave its share back while its jobs ran: their slots free through their rows.
    return this.limited || (this.leases && this.stopped);
  }

  /** Whether the queue may claim ahead of its free slots: unless a rate limit counts each claim as a start. */
  private get claimsAhead(): boolean {
    return !this.limited || this.limitsValue.rateLimit === undefined;
  }

  /** Applies the run-time limits stored for the queue (all of them: what is not there is as configured). */
  setLimitOverrides(overrides: QueueLimitsChange | null): void {
    this.limitOverrides = { ...(overrides ?? {}) };
    this.updateLimits();
  }

  /** Applies one run-time change of limits (a signal), over those before it. */
  changeLimits(change: QueueLimitsChange): void {
    this.limitOverrides = { ...this.limitOverrides, ...change };
    this.updateLimits();
  }

  private updateLimits(): void {
    const next = applyLimitsChange(this.configuredLimits, this.limitOverrides);
    if (JSON.stringify(next) === JSON.stringify(this.limitsValue)) return;
    this.limitsValue = next;
    if (!this.claimsAhead) this.releaseAhead('claimed ahead as the queue got a rate limit');
    if (!this.leases) this.leaveShare();
    else if (!this.stopped) this.share().request();
    this.wake();
  }

  get limit(): number {
    return this.limitValue;
  }

  get paused(): boolean {
    return this.pausedValue;
  }

  /** A claim is under way: rows it takes may be `executing` in the database before they run here. */
  get claimInFlight(): boolean {
    return this.claiming !== undefined;
  }

  get runningCount(): number {
    return this.running.size;
  }

  get aheadCount(): number {
    return this.ahead.length;
  }

  /** Jobs claimed ahead and not started: this node's rows, though nothing runs them yet. */
  aheadJobIds(): number[] {
    return this.ahead.map((entry) => entry.job.id);
  }

  /** Forgets a job claimed ahead (it was cancelled); true if it was held here. */
  dropAhead(jobId: number): boolean {
    const index = this.ahead.findIndex((entry) => entry.job.id === jobId);
    if (index < 0) return false;
    this.ahead.splice(index, 1);
    return true;
  }

  start(): void {
    this.stopped = false;
    this.wake();
  }

  /** Something says the queue may have jobs: an insert, staging, a poll, a resume. */
  wake(): void {
    this.mayHaveMore = true;
    this.kick();
  }

  pause(): void {
    this.pausedValue = true;
    this.releaseAhead('claimed ahead as the queue paused');
  }

  resume(): void {
    this.pausedValue = false;
    this.wake();
  }

  scale(limit: number): void {
    if (limit < this.limitValue) this.releaseAhead('claimed ahead as the queue scaled down');
    this.limitValue = limit;
    this.wake();
  }

  /** Stops claiming and hands back jobs claimed ahead; running jobs go on (see drain). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.windowTimer);
    this.windowWakeAt = Infinity;
    this.releaseAhead('claimed ahead during shutdown');
    this.leaveShare();
  }

  /** Waits for running jobs, at most until `deadline` (epoch ms); returns how many are still running. */
  async drain(deadline: number): Promise<number> {
    while (this.running.size > 0 || this.claiming) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      let timer: NodeJS.Timeout | undefined;
      // A claim under way may still add running jobs (or hand them back): wait for it first.
      await Promise.race([
        this.claiming ?? Promise.all(this.running.values()),
        new Promise((r) => (timer = setTimeout(r, left))),
      ]);
      clearTimeout(timer);
    }
    await this.leaving;
    return this.running.size;
  }

  /** Starts a claim soon, unless one is running; many kicks in one tick make one claim. */
  private kick(): void {
    if (this.stopped || this.pausedValue || this.claiming || this.kickScheduled) return;
    this.kickScheduled = true;
    setImmediate(() => {
      this.kickScheduled = false;
      if (this.claiming) return;
      this.claiming = this.claimLoop().finally(() => (this.claiming = undefined));
    });
  }

  private async claimLoop(): Promise<void> {
    try {
      while (!this.stopped && !this.pausedValue && this.mayHaveMore) {
        const demand = this.demand();
        if (demand <= 0) break; // a finishing job kicks again
        this.mayHaveMore = false; // a wake() during the claim sets it again
        const limited = this.limited;
        const claim = limited
          ? await this.deps.limited!.claim(
              this.queue,
              demand,
              this.deps.node,
              this.limitsValue,
              // Finished here, their outcome not written yet: executing in the rows, yet not running.
              this.deps.acker.heldJobIds(),
            )
          : undefined;
        const jobs = claim ? claim.jobs : await this.deps.store.fetchJobs(this.queue, demand, this.deps.node);
        if (this.stopped || this.pausedValue) {
          // Paused or stopped while the claim was under way: hand the jobs back.
          this.release(jobs, this.stopped ? 'claimed during shutdown' : 'claimed as the queue paused');
          if (this.pausedValue) this.mayHaveMore = true;
          break;
        }
        const claimedAt = performance.now();
        for (const job of jobs) if (job.state === 'executing') this.ahead.push({ job, claimedAt });
        this.startAhead();
        // The queue got a rate limit while another claim was under way: it holds nothing ahead.
        if (!this.claimsAhead && this.ahead.length > 0)
          this.releaseAhead('claimed ahead as the queue got a rate limit');
        if (jobs.length === demand) this.mayHaveMore = true;
        else if (claim) {
          // Held back by the limits: claim again when they may have room (a wake during this claim: now).
          const wokenMeanwhile = this.mayHaveMore;
          if (claim.heldBack) this.mayHaveMore = true;
          if (claim.heldBack && claim.windowFreesInMs !== undefined) this.wakeIn(claim.windowFreesInMs);
          if (!wokenMeanwhile) break;
        }
      }
      this.retry.succeeded();
    } catch (error) {
      this.mayHaveMore = true;
      const delay = this.retry.failed(error);
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.kick(), delay);
    }
  }

  /**
   * How many jobs to claim now: the free slots plus the buffer's target, less
   * what is held. Once the buffer is at work, only when it has run half down,
   * so claims stay large; with free slots and an empty buffer, always.
   */
  private demand(): number {
    if (!this.claimsAhead) return this.limitValue - this.running.size;
    const slots = this.slots;
    if (slots === 0) {
      // Work and no share: ask for one now (it wakes the queue when it grows); a partial share grows at its reviews.
      if (this.leases && this.limitValue > 0 && this.hasWork) this.share().request();
      return 0;
    }
    const target = this.claimAhead.target();
    const free = slots - this.running.size;
    const demand = free + target - this.ahead.length;
    if (this.ahead.length === 0) return Math.max(0, demand);
    return this.ahead.length <= target / 2 ? demand : 0;
  }

  /** Starts held jobs while there are free slots. */
  private startAhead(): void {
    if (this.stopped || this.pausedValue) return;
    const slots = this.slots;
    while (this.running.size < slots && this.ahead.length > 0) {
      this.run(this.ahead.shift()!.job);
    }
    this.reviewAhead();
  }

  private run(job: Job): void {
    // The attempt starts now, however long the job waited claimed ahead: its outcome records this as attempted_at.
    const startedMs = Date.now();
    if (job.attemptedAt && job.attemptedAt.getTime() < startedMs) job.attemptedAt = new Date(startedMs);
    const done = this.deps.executor.execute(job, startedMs).finally(() => {
      this.running.delete(job.id);
      this.claimAhead.finish();
      this.startAhead();
      if (this.mayHaveMore) this.kick();
    });
    this.running.set(job.id, done);
  }

  /**
   * While jobs are held, looks again every HORIZON_MS: jobs beyond twice what
   * the queue's rate now warrants go back (the newest first), and so does any
   * job held MAX_HOLD_MS. A queue whose jobs turned slow so hands its held jobs
   * to nodes with free slots within a few reviews.
   */
  private reviewAhead(): void {
    if (this.ahead.length === 0) {
      clearTimeout(this.reviewTimer);
      this.reviewTimer = undefined;
      return;
    }
    if (this.reviewTimer) return;
    this.reviewTimer = setTimeout(() => {
      this.reviewTimer = undefined;
      const keep = 2 * this.claimAhead.target();
      const excess = this.ahead.length > keep ? this.ahead.splice(keep) : [];
      const expired = performance.now() - MAX_HOLD_MS;
      let old = 0;
      while (old < this.ahead.length && this.ahead[old].claimedAt <= expired) old++;
      const back = [...this.ahead.splice(0, old), ...excess].map((entry) => entry.job);
      if (back.length > 0) this.release(back, "claimed ahead, and the queue's rate no longer needs it here");
      this.reviewAhead();
    }, HORIZON_MS);
    this.reviewTimer.unref();
  }

  /** Wakes the queue in `ms` (its rate window frees), unless a wake comes sooner anyway. */
  private wakeIn(ms: number): void {
    const at = performance.now() + ms;
    if (this.windowTimer && this.windowWakeAt <= at) return;
    clearTimeout(this.windowTimer);
    this.windowWakeAt = at;
    // A few ms late rather than early: a wake before the start leaves the window finds no room.
    this.windowTimer = setTimeout(
      () => {
        this.windowTimer = undefined;
        this.windowWakeAt = Infinity;
        this.wake();
      },
      Math.ceil(ms) + 2,
    );
    this.windowTimer.unref();
  }

  private releaseAhead(reason: string): void {
    const jobs = this.ahead.splice(0).map((entry) => entry.job);
    this.reviewAhead();
    this.release(jobs, reason);
  }

  /** Jobs claimed but not started go back without costing an attempt. */
  private release(jobs: Job[], reason: string): void {
    for (const job of jobs) this.deps.acker.ack(toAckRow(job, { kind: 'released', reason }));
  }
}
