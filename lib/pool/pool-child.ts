import { type ChildProcess, fork } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { TraceCarrier } from '../events/hooks';
import type { Job } from '../job';
import { type ErrorInfo, type Outcome, errorInfo } from '../queue/outcome';
import { type MainProcessCallName, isMainProcessCall } from './protocol/calls';
import type { BootSpec, ChildMessage, ParentMessage } from './protocol/messages';

/** Carries out a call a job in a pool process made to `Oban` (see protocol/calls.ts). */
export type CallHandler = (method: MainProcessCallName, args: unknown[]) => Promise<unknown>;

/** How one run in a pool process ended: the outcome the process sent, or the process's end before it sent one. */
export type RunEnd =
  | { kind: 'outcome'; outcome: Outcome }
  | {
      kind: 'exit';
      /** Why the pool stopped the process (to stop a job, or the pool's own stop); absent when it died. */
      stoppedBecause?: string;
      /** How it died, worded as the failure of the job it ran. */
      error: ErrorInfo;
      /** How many jobs the process held when it ended, this one included. */
      held: number;
    };

export interface PoolChildEvents {
  /** A job in the process calls the main process's Oban. */
  call: CallHandler;
  /** The process ended, by itself or killed; `jobs` were in it and get no outcome of their own. */
  exit(process: PoolChild, code: number | null, signal: NodeJS.Signals | null, jobs: Job[]): void;
}

/** The main process's handle on one pool process (a forked child running cpu jobs). */
export class PoolChild {
  private readonly child: ChildProcess;
  private readonly inFlight = new Map<number, { job: Job; resolve: (end: RunEnd) => void }>();
  private readonly statsWaiters: Array<(stats: { rss: number; running: number }) => void> = [];
  private state: 'starting' | 'ready' | 'stopping' | 'exited' = 'starting';
  private fatal: ErrorInfo | undefined;
  private stoppedBecause: string | undefined;
  private wasReady = false;
  readonly startedAt = Date.now();
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;

  constructor(
    entry: string,
    execArgv: string[],
    spec: BootSpec,
    private readonly events: PoolChildEvents,
  ) {
    this.child = fork(entry, [], {
      execArgv,
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    this.ready = new Promise((resolve, reject) => {
      this.child.on('message', (message: ChildMessage) => this.onMessage(message, resolve, reject));
      this.child.once('exit', (code, signal) => {
        if (this.state === 'starting') {
          reject(new Error(this.fatal?.message ?? `${describeExit(code, signal)} before it was ready`));
        }
        this.onExit(code, signal);
      });
      // Without a listener an 'error' (a failed kill, a write to a dead channel)
      // would crash the main process; the 'exit' that follows settles the jobs.
      this.child.on('error', (error) => reject(error));
    });
    this.ready.catch(() => undefined);
    this.send({ type: 'boot', spec });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get isReady(): boolean {
    return this.state === 'ready';
  }

  /** Whether it ever booted; a process that never did failed to start. */
  get booted(): boolean {
    return this.wasReady;
  }

  /** The error it reported before dying (a boot failure or an uncaught error), if any. */
  get failure(): string | undefined {
    return this.fatal?.message;
  }

  /** Whether the pool stopped it (to stop a job, or the pool's own stop), rather than it dying. */
  get wasStopped(): boolean {
    return this.stoppedBecause !== undefined;
  }

  get load(): number {
    return this.inFlight.size;
  }

  holds(jobId: number): boolean {
    return this.inFlight.has(jobId);
  }

  /** Runs `job` there; `trace`, when given, is the context its perform runs in. */
  run(job: Job, trace?: TraceCarrier): Promise<RunEnd> {
    return new Promise((resolve) => {
      this.inFlight.set(job.id, { job, resolve });
      this.send(trace ? { type: 'run', job, trace } : { type: 'run', job });
    });
  }

  /**
   * Resident memory in bytes, or null when unknown. Read from /proc where
   * there is one, since a process busy with CPU-bound work cannot answer;
   * elsewhere the process is asked, with a short timeout.
   */
  async rss(): Promise<number | null> {
    const pid = this.child.pid;
    if (pid === undefined || this.state === 'exited') return null;
    try {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      const kb = /^VmRSS:\s+(\d+) kB/m.exec(status);
      if (kb) return Number(kb[1]) * 1024;
    } catch {
      // no procfs: ask the process
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), 500);
      this.statsWaiters.push((stats) => {
        clearTimeout(timer);
        resolve(stats.rss);
      });
      this.send({ type: 'stats' });
    });
  }

  /**
   * Stops now, the only way to stop CPU-bound code. The jobs it held are
   * released once it has exited: stopped, so none can run twice at once.
   */
  kill(): void {
    if (this.state === 'exited') return;
    this.state = 'stopping';
    this.stoppedBecause ??= 'was stopped for another job';
    this.child.kill('SIGKILL');
  }

  /** Asks the process to close its Nest context (teardown hooks) and exit; kills it after `timeoutMs`. */
  async stop(timeoutMs: number): Promise<void> {
    if (this.state === 'exited') return;
    this.state = 'stopping';
    this.stoppedBecause = 'was stopped with the pool';
    this.send({ type: 'shutdown' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  private onMessage(message: ChildMessage, ready: () => void, failed: (error: Error) => void): void {
    switch (message.type) {
      case 'ready':
        this.state = 'ready';
        this.wasReady = true;
        ready();
        break;
      case 'boot-failed':
        this.fatal = message.error;
        failed(new Error(message.error.message));
        break;
      case 'outcome': {
        const entry = this.inFlight.get(message.jobId);
        this.inFlight.delete(message.jobId);
        entry?.resolve({ kind: 'outcome', outcome: message.outcome });
        break;
      }
      case 'stats':
        this.statsWaiters.shift()?.({ rss: message.rss, running: message.running });
        break;
      case 'call':
        this.answer(message.callId, message.method, message.args);
        break;
      case 'fatal':
        this.fatal = message.error;
        break;
    }
  }

  private answer(callId: number, method: unknown, args: unknown[]): void {
    const result = isMainProcessCall(method)
      ? new Promise((resolve) => resolve(this.events.call(method, args)))
      : Promise.reject(new Error(`Oban.${String(method)} cannot be called from a worker process`));
    const fail = (error: unknown) => this.send({ type: 'call-result', callId, error: callError(error) });
    result.then(
      (value) =>
        this.send({ type: 'call-result', callId, value }) ||
        fail(new Error(`the result of Oban.${String(method)} cannot be sent to a worker process`)),
      fail,
    );
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.state = 'exited';
    const jobs = [...this.inFlight.values()];
    this.inFlight.clear();
    for (const waiter of this.statsWaiters.splice(0)) waiter({ rss: 0, running: 0 });
    this.events.exit(
      this,
      code,
      signal,
      jobs.map((e) => e.job),
    );
    const end: RunEnd = {
      kind: 'exit',
      stoppedBecause: this.stoppedBecause && `worker process ${this.pid} ${this.stoppedBecause}`,
      error: {
        message:
          `WorkerProcessExitError: worker process ${this.pid} ${describeExit(code, signal)} while running this job` +
          (this.fatal ? ` (${this.fatal.message})` : ''),
        stack: this.fatal?.stack,
      },
      held: jobs.length,
    };
    for (const { resolve } of jobs) resolve(end);
  }

  /**
   * Sends without ever throwing or emitting an unhandled error. A write to a
   * process that just died fails (EPIPE) before its exit is seen: that is
   * ignored, as its 'exit' settles every job it held. Returns false when the
   * message cannot be serialized (then nothing was sent).
   */
  private send(message: ParentMessage): boolean {
    if (!this.child.connected) return true;
    try {
      this.child.send(message, undefined, {}, () => undefined);
      return true;
    } catch {
      return false;
    }
  }
}

/** An error as a `call-result` carries it; whatever was thrown. */
function callError(error: unknown): ErrorInfo & { name: string } {
  const name = error instanceof Error ? error.name : 'Error';
  return { name, ...errorInfo(error) };
}

export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code}`;
}
