import type { Logger } from '@nestjs/common';
import type { Job } from '../job';
import type { PgJobStore } from '../store/pg-job-store';
import { Retry } from '../util/retry';
import type { Acker } from './acker';
import type { Executor } from './executor';
import { toAckRow } from './outcome';

export interface ProducerDeps {
  store: PgJobStore;
  executor: Executor;
  acker: Acker;
  node: string;
  logger: Logger;
}

/**
 * Runs one queue on this node within its limit. It claims jobs when woken (an
 * insert notification, the stager's poll, a freed slot) and only as many as
 * there are free slots. Wake-ups that arrive while a claim is under way are
 * folded into the next one, so a busy queue claims in batches.
 */
export class Producer {
  private readonly running = new Map<number, Promise<void>>();
  private stopped = true;
  /** The claim under way, if any. */
  private claiming: Promise<void> | undefined;
  private kickScheduled = false;
  /** The queue may hold more jobs than the last claim took. */
  private mayHaveMore = true;
  private readonly retry: Retry;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly queue: string,
    private limitValue: number,
    private pausedValue: boolean,
    private readonly deps: ProducerDeps,
  ) {
    this.retry = new Retry(`claiming jobs of queue '${queue}'`, deps.logger);
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
  }

  resume(): void {
    this.pausedValue = false;
    this.wake();
  }

  scale(limit: number): void {
    this.limitValue = limit;
    this.wake();
  }

  /** Stops claiming; running jobs go on (see drain). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
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
        const demand = this.limitValue - this.running.size;
        if (demand <= 0) break; // a finishing job kicks again
        this.mayHaveMore = false; // a wake() during the claim sets it again
        const jobs = await this.deps.store.fetchJobs(this.queue, demand, this.deps.node);
        if (this.stopped || this.pausedValue) {
          // Paused or stopped while the claim was under way: hand the jobs back.
          this.release(jobs, this.stopped ? 'claimed during shutdown' : 'claimed as the queue paused');
          if (this.pausedValue) this.mayHaveMore = true;
          break;
        }
        for (const job of jobs) if (job.state === 'executing') this.run(job);
        if (jobs.length === demand) this.mayHaveMore = true;
      }
      this.retry.succeeded();
    } catch (error) {
      this.mayHaveMore = true;
      const delay = this.retry.failed(error);
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.kick(), delay);
    }
  }

  private run(job: Job): void {
    const done = this.deps.executor.execute(job).finally(() => {
      this.running.delete(job.id);
      if (this.mayHaveMore) this.kick();
    });
    this.running.set(job.id, done);
  }

  /** Jobs claimed just as the queue stopped or paused go back without costing an attempt. */
  private release(jobs: Job[], reason: string): void {
    for (const job of jobs) this.deps.acker.ack(toAckRow(job, { kind: 'released', reason }));
  }
}
