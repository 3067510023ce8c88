import type { Logger } from '@nestjs/common';
import type { Engine } from '../engine/engine';
import type { Job } from '../job';
import type { Acker } from './acker';
import type { Executor } from './executor';
import { toAckRow } from './outcome';

export interface ProducerDeps {
  engine: Engine;
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
  private fetching = false;
  private kickScheduled = false;
  /** The queue may hold more jobs than the last claim took. */
  private mayHaveMore = true;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly queue: string,
    private limitValue: number,
    private pausedValue: boolean,
    private readonly deps: ProducerDeps,
  ) {}

  get limit(): number {
    return this.limitValue;
  }

  get paused(): boolean {
    return this.pausedValue;
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
    while (this.running.size > 0 || this.fetching) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(this.running.values()),
        new Promise((r) => (timer = setTimeout(r, this.fetching ? Math.min(left, 10) : left))),
      ]);
      clearTimeout(timer);
    }
    return this.running.size;
  }

  /** Starts a claim soon, unless one is running; many kicks in one tick make one claim. */
  private kick(): void {
    if (this.stopped || this.pausedValue || this.fetching || this.kickScheduled) return;
    this.kickScheduled = true;
    setImmediate(() => {
      this.kickScheduled = false;
      void this.claimLoop();
    });
  }

  private async claimLoop(): Promise<void> {
    if (this.fetching) return;
    this.fetching = true;
    try {
      while (!this.stopped && !this.pausedValue && this.mayHaveMore) {
        const demand = this.limitValue - this.running.size;
        if (demand <= 0) break; // a finishing job kicks again
        this.mayHaveMore = false; // a wake() during the claim sets it again
        const jobs = await this.deps.engine.fetchJobs(this.queue, demand, this.deps.node);
        if (this.stopped || this.pausedValue) {
          // Paused or stopped while the claim was under way: hand the jobs back.
          this.release(jobs, this.stopped ? 'claimed during shutdown' : 'claimed as the queue paused');
          if (this.pausedValue) this.mayHaveMore = true;
          break;
        }
        for (const job of jobs) this.run(job);
        if (jobs.length === demand) this.mayHaveMore = true;
      }
      this.failures = 0;
    } catch (error) {
      this.mayHaveMore = true;
      this.failures++;
      if (this.failures === 1 || this.failures % 20 === 0) {
        this.deps.logger.error(`queue '${this.queue}': claiming jobs failed (will retry): ${(error as Error).message}`);
      }
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.kick(), Math.min(5_000, 100 * 2 ** Math.min(this.failures, 6)));
    } finally {
      this.fetching = false;
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
