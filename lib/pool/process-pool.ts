// Puts the pool process's entry in the program of compilers that follow the import
// graph (tsc given one entry file, nest build), so it is emitted beside this file,
// without importing (loading) it in the main process.
/// <reference path="./child/main.ts" />
import * as path from 'node:path';
import type { Logger } from '@nestjs/common';
import { ObanConfigError } from '../errors';
import type { TraceCarrier } from '../events/hooks';
import { ObanEvents } from '../events/oban-events';
import type { Job } from '../job';
import type { AttemptAbort } from '../queue/attempt-abort';
import type { JobRunner } from '../queue/job-runner';
import type { Outcome } from '../queue/outcome';
import { withTimeout } from '../util/timeout';
import type { RegisteredWorker } from '../worker/worker-registry';
import { childExecArgv } from './child-exec-argv';
import { CrashSuspects } from './crash-suspects';
import { type CallHandler, PoolChild, describeExit } from './pool-child';
import type { BootSpec } from './protocol/messages';
import type { PoolProcessStats } from './protocol/stats';

interface Waiting {
  job: Job;
  resolve: (outcome: Outcome) => void;
  /** Told when the job is handed to a process. */
  started?: () => void;
  /** The context its perform runs in, in the worker process (tracing). */
  trace?: TraceCarrier;
}

const BOOT_TIMEOUT_MS = 60_000;
const MAX_RESTART_DELAY_MS = 30_000;
/** A process that dies holding no job sooner than this after starting counts as failing, and restarts back off. */
const HEALTHY_AFTER_MS = 10_000;
/**
 * The pool process's entry, found by path (same extension as this file: .js
 * compiled, .ts under a TypeScript hook) so the main process never loads the
 * pool process's code; `tsc` emits it with the rest of lib/.
 */
export const POOL_PROCESS_ENTRY = path.join(__dirname, 'child', `main${path.extname(__filename)}`);

/**
 * The worker processes that run `cpu: true` jobs. The main process claims the
 * jobs (so a queue's limit is one budget whatever the number of processes) and
 * hands each to the ready process running the fewest jobs. A job that must be
 * stopped (timeout, cancel, shutdown) stops its whole process; the others it
 * held are released once it has exited. A job that kills its process is
 * charged for it, and only that job: when a process dies holding several,
 * they go back uncharged and each runs alone next (`CrashSuspects`). A
 * process that dies is replaced, after a growing delay when it keeps dying on
 * its own; jobs never go to a process that has not booted, so one that cannot
 * start fails no job.
 */
export class ProcessPool implements JobRunner {
  readonly stoppable = true;
  private readonly slots: Array<PoolChild | undefined>;
  private readonly failures: number[];
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  private readonly waiting: Waiting[] = [];
  private readonly suspects = new CrashSuspects();
  /** Processes running a suspect alone: no other job joins them. */
  private readonly isolating = new Set<PoolChild>();
  /** The process that takes no new job until it is empty, for a waiting suspect to run alone in. */
  private draining: PoolChild | undefined;
  private readonly execArgv: string[];
  private stopping = false;
  /** Set: slot N's process gets `--inspect=127.0.0.1:<inspectPort + N>` (the `processInspect` option). */
  inspectPort: number | undefined;
  /** The app is shutting down: running jobs may still finish, but a process that exits is not replaced. */
  private closing = false;
  private nextSlot = 0;

  constructor(
    size: number,
    /** Node flags added to those the processes inherit. */
    extraExecArgv: string[],
    private readonly spec: BootSpec,
    /** Carries out the `Oban` calls of jobs running in the processes. */
    private readonly onCall: CallHandler,
    private readonly logger: Logger,
    private readonly events: ObanEvents = new ObanEvents(),
  ) {
    this.slots = new Array(size).fill(undefined);
    this.failures = new Array(size).fill(0);
    this.execArgv = [...childExecArgv(POOL_PROCESS_ENTRY), ...extraExecArgv];
  }

  get size(): number {
    return this.slots.length;
  }

  /** Starts every process and waits until each has booted; fails the app's boot with the reason if one cannot. */
  async start(): Promise<void> {
    const started = this.slots.map((_, slot) => this.spawn(slot));
    try {
      await Promise.all(
        started.map((p) =>
          withTimeout(p.ready, BOOT_TIMEOUT_MS, () => new Error(`booting took over ${BOOT_TIMEOUT_MS} ms`)),
        ),
      );
    } catch (error) {
      await this.stop(1_000);
      throw new ObanConfigError(
        `a worker process for the cpu workers (${this.spec.workers.map((w) => w.name).join(', ')}) failed to start: ` +
          `${(error as Error).message}`,
      );
    }
    this.logger.log(
      `${this.size} worker process(es) (pids ${started.map((p) => p.pid).join(', ')}) ready for ` +
        this.spec.workers.map((w) => w.name).join(', '),
    );
  }

  run(
    job: Job,
    _worker: RegisteredWorker,
    abort: AttemptAbort,
    started?: () => void,
    trace?: TraceCarrier,
  ): Promise<Outcome> {
    return new Promise((resolve) => {
      const entry: Waiting = { job, resolve, started, trace };
      abort.onAbort(() => this.stopJob(entry));
      this.waiting.push(entry);
      this.dispatch();
    });
  }

  async stats(): Promise<PoolProcessStats[]> {
    return Promise.all(
      this.slots.map(async (p) => {
        if (!p) return { pid: undefined, ready: false, running: 0, rss: null };
        return { pid: p.pid, ready: p.isReady, running: p.load, rss: await p.rss() };
      }),
    );
  }

  /**
   * The app began to shut down: from now on no process is started, not even
   * to replace one that exits, while running jobs go on until `stop()`.
   */
  beginShutdown(): void {
    this.closing = true;
    for (const timer of this.restartTimers) clearTimeout(timer);
    this.restartTimers.clear();
  }

  /** Closes every process (its Nest context's teardown hooks run), killing those still busy after `timeoutMs`. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    for (const timer of this.restartTimers) clearTimeout(timer);
    this.restartTimers.clear();
    for (const entry of this.waiting.splice(0)) entry.resolve({ kind: 'released', reason: 'the pool stopped' });
    await Promise.all(this.slots.map((p) => p?.stop(timeoutMs)));
  }

  /** Hands waiting jobs, in order, to processes that may take them; the rest wait for a process to be ready or empty. */
  private dispatch(): void {
    if (this.draining && !this.waiting.some((entry) => this.suspects.has(entry.job.id))) this.draining = undefined;
    for (const entry of [...this.waiting]) {
      const suspect = this.suspects.has(entry.job.id);
      const process = suspect ? this.emptyProcessForSuspect() : this.leastLoaded();
      if (!process) continue;
      this.waiting.splice(this.waiting.indexOf(entry), 1);
      this.runIn(process, entry, suspect);
    }
  }

  private runIn(process: PoolChild, entry: Waiting, suspect: boolean): void {
    if (suspect) this.isolating.add(process);
    const end = process.run(entry.job, entry.trace);
    entry.started?.();
    end.then((end) => {
      this.isolating.delete(process);
      entry.resolve(this.suspects.outcomeOf(entry.job, end));
      if (this.waiting.length > 0) this.dispatch();
    });
  }

  /** Whether a job may join this process: ready, and not running a suspect alone. */
  private isOpen(process: PoolChild | undefined): process is PoolChild {
    return !!process?.isReady && !this.isolating.has(process);
  }

  /** The open process with the fewest jobs, other than the one draining; ties go round the slots so all get work. */
  private leastLoaded(): PoolChild | undefined {
    let best: PoolChild | undefined;
    for (let i = 0; i < this.slots.length; i++) {
      const candidate = this.slots[(this.nextSlot + i) % this.slots.length];
      if (this.isOpen(candidate) && candidate !== this.draining && (!best || candidate.load < best.load)) {
        best = candidate;
      }
    }
    this.nextSlot = (this.nextSlot + 1) % this.slots.length;
    return best;
  }

  /**
   * An empty open process for a suspect to run alone in. When there is none,
   * one process (the least loaded) takes no new job until it is empty, so a
   * suspect never waits behind a stream of other jobs; one at a time, so the
   * other processes keep running the queue.
   */
  private emptyProcessForSuspect(): PoolChild | undefined {
    const empty = this.slots.filter((p): p is PoolChild => this.isOpen(p) && p.load === 0);
    const chosen = empty.find((p) => p === this.draining) ?? empty[0];
    if (chosen) {
      if (chosen === this.draining) this.draining = undefined;
      return chosen;
    }
    if (!this.isOpen(this.draining)) this.draining = this.leastLoaded();
    return undefined;
  }

  private stopJob(entry: Waiting): void {
    const index = this.waiting.indexOf(entry);
    if (index >= 0) {
      this.waiting.splice(index, 1);
      entry.resolve({ kind: 'released', reason: 'stopped before it started' });
      return;
    }
    this.slots.find((p) => p?.holds(entry.job.id))?.kill();
  }

  private spawn(slot: number): PoolChild {
    const execArgv = this.inspectPort
      ? [...this.execArgv, `--inspect=127.0.0.1:${this.inspectPort + slot}`]
      : this.execArgv;
    const process = new PoolChild(POOL_PROCESS_ENTRY, execArgv, this.spec, {
      call: this.onCall,
      exit: (p, code, signal, jobs) => this.onExit(slot, p, code, signal, jobs),
    });
    this.slots[slot] = process;
    process.ready.then(
      () => {
        if (this.events.has('pool.process.started')) {
          this.events.emit('pool.process.started', { node: this.events.node, pid: process.pid, slot });
        }
        this.dispatch();
      },
      () => undefined, // reported by start() at boot, by onExit later
    );
    return process;
  }

  private onExit(slot: number, process: PoolChild, code: number | null, signal: NodeJS.Signals | null, jobs: Job[]) {
    if (this.slots[slot] === process) this.slots[slot] = undefined;
    this.isolating.delete(process);
    if (this.draining === process) this.draining = undefined;
    if (this.events.has('pool.process.exited')) {
      const { node } = this.events;
      const held = jobs.map((j) => j.id);
      const stopped = this.stopping || process.wasStopped;
      this.events.emit('pool.process.exited', { node, pid: process.pid, slot, code, signal, jobs: held, stopped });
    }
    if (this.stopping) return;
    if (this.closing) {
      this.logger.warn(
        `worker process ${process.pid} ${describeExit(code, signal)}; not replaced: the app is shutting down`,
      );
      return;
    }
    // Stopping a process for a timeout or cancel is no sign of trouble, nor is
    // a death charged to the jobs it held (their retries' backoff paces them);
    // dying young on its own is.
    const failing = !process.wasStopped && jobs.length === 0 && Date.now() - process.startedAt < HEALTHY_AFTER_MS;
    this.failures[slot] = failing ? this.failures[slot] + 1 : 0;
    const delay = this.failures[slot] <= 1 ? 0 : Math.min(MAX_RESTART_DELAY_MS, 500 * 2 ** (this.failures[slot] - 2));
    const what = process.booted
      ? `${describeExit(code, signal)}${jobs.length ? ` holding job(s) ${jobs.map((j) => j.id).join(', ')}` : ''}`
      : `failed to start: ${process.failure ?? describeExit(code, signal)}`;
    const suspects =
      !process.wasStopped && jobs.length > 1
        ? ' (none is charged for it: each runs alone next, to find the one that caused it)'
        : '';
    const message = `worker process ${process.pid} ${what}${suspects}; starting another${delay ? ` in ${delay} ms` : ''}`;
    if (process.wasStopped) this.logger.log(message);
    else if (this.failures[slot] > 1 || !process.booted) this.logger.error(message);
    else this.logger.warn(message);
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (!this.stopping && !this.closing) this.spawn(slot);
    }, delay);
    this.restartTimers.add(timer);
  }
}
