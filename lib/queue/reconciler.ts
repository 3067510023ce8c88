import type { Logger } from '@nestjs/common';
import type { ClusterStore } from '../store/cluster-store';
import type { PgJobStore } from '../store/pg-job-store';
import { Ticker } from '../util/ticker';
import type { Acker } from './acker';
import type { Executor } from './executor';
import type { Producer } from './producer';
import { readLimitsChange } from '../validation/limit-options';

export interface ReconcilerDeps {
  store: PgJobStore;
  cluster: ClusterStore;
  producers: ReadonlyMap<string, Producer>;
  executor: Executor;
  acker: Acker;
  node: string;
  /** ms between checks (the `reconcileInterval` option). */
  interval: number;
  logger: Logger;
}

/** A claim's rows count as lost only once older than this, and never less than a second. */
const MIN_GRACE_MS = 1_000;

/**
 * Brings this node in line with the database, for whatever a lost
 * notification or a lost answer kept from it: every `interval` ms, and at
 * once on a reconnect of the LISTEN connection, it applies the stored queue
 * states (pauses, limits), stops running jobs that were cancelled meanwhile,
 * and puts back the rows claimed under this node's name that it neither runs
 * nor is recording: claims that committed but whose answer never arrived.
 * Such a job never started, so its attempt is given back.
 */
export class Reconciler {
  private readonly ticker: Ticker;
  private readonly graceMs: number;
  /** The database's time when this node started; rows claimed before are not its claims. */
  private since: string | undefined;

  constructor(private readonly deps: ReconcilerDeps) {
    this.graceMs = Math.max(MIN_GRACE_MS, deps.interval);
    this.ticker = new Ticker(
      "reconciling this node's queues and jobs with the database",
      deps.interval,
      () => this.reconcile(),
      deps.logger,
    );
  }

  /** Before the producers start: the stored queue states, and the time from which claims are this node's. */
  async start(): Promise<void> {
    await this.applyStoredQueueStates();
    this.since = (await this.check(undefined)).now;
    this.ticker.start();
  }

  /** Checks soon, out of turn (the LISTEN connection is back: signals may have been missed). */
  runSoon(): void {
    this.ticker.poke();
  }

  stop(): Promise<void> {
    return this.ticker.stop();
  }

  /** Applies pauses and limits set at run time (oban_queues), which outrank this node's config. */
  async applyStoredQueueStates(): Promise<void> {
    const { cluster, producers } = this.deps;
    for (const state of await cluster.queueStates([...producers.keys()])) {
      const producer = producers.get(state.name);
      if (!producer) continue;
      if (state.limit !== null && state.limit !== producer.limit) producer.scale(state.limit);
      const limits = readLimitsChange(state.limits, `oban_queues.limits of queue '${state.name}'`);
      if (limits instanceof Error) this.deps.logger.warn(`${limits.message}; the queue keeps its limits`);
      else producer.setLimitOverrides(limits);
      if (state.paused === true) producer.pause();
      else if (state.paused === false && producer.paused) producer.resume();
    }
  }

  private async reconcile(): Promise<void> {
    await this.applyStoredQueueStates();
    const asked = performance.now();
    const { cancelled, orphans } = await this.check(this.since);
    for (const id of cancelled) stopCancelled(id, this.deps.producers.values(), this.deps.executor);
    // A claim made after the question has attempted_at later than `now - grace` in the answer,
    // as long as the answer came within the grace: otherwise it might be taken for lost.
    if (performance.now() - asked >= this.graceMs) return;
    this.release(orphans);
  }

  /** Asks about this node's rows; what is running or being recorded now is never an orphan. */
  private check(since: string | undefined) {
    const { store, executor, acker, producers, node } = this.deps;
    // Jobs claimed ahead count as running: a cancel must reach them too.
    const running = [...executor.runningJobIds(), ...[...producers.values()].flatMap((p) => p.aheadJobIds())];
    return store.reconcileNode({
      node,
      running,
      held: [...running, ...acker.heldJobIds()],
      quietQueues: [...producers.values()].filter((p) => !p.claimInFlight).map((p) => p.queue),
      since,
      graceMs: this.graceMs,
    });
  }

  /** Lost claims go back `available` without costing an attempt, through the acker (which wakes their queues). */
  private release(orphans: Array<{ id: number; queue: string; attempt: number }>): void {
    if (orphans.length === 0) return;
    for (const { id, queue, attempt } of orphans) {
      this.deps.acker.ack({ id, queue, attempt, state: 'available', attempt_change: -1 });
    }
    const ids = orphans.map((o) => o.id).join(', ');
    this.deps.logger.warn(
      `node ${this.deps.node}: put back ${orphans.length} job(s) (${ids}) it had claimed but never received ` +
        `(the database's answer was lost); no attempt counted`,
    );
  }
}

/** A job cancelled in the database: forgotten if it was only claimed ahead, stopped if it runs. */
export function stopCancelled(jobId: number, producers: Iterable<Producer>, executor: Executor): void {
  for (const producer of producers) if (producer.dropAhead(jobId)) return;
  executor.kill(jobId);
}
