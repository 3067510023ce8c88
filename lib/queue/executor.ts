import type { Logger } from '@nestjs/common';
import type { JobEventBase, JobStopEvent } from '../events/events';
import type { ObanHooks, TraceCarrier } from '../events/hooks';
import { ObanEvents } from '../events/oban-events';
import type { Job } from '../job';
import { isPlainObject } from '../json';
import type { AckRow } from '../store/pg-job-store';
import { setLongTimeout } from '../util/long-timer';
import { MAX_DELAY_SECONDS } from '../validation/rules';
import type { RegisteredWorker, WorkerRegistry } from '../worker/worker-registry';
import { defaultBackoff } from './backoff';
import { JobCancelledError, JobTimeoutError, ShutdownError } from './abort-reasons';
import { AttemptAbort } from './attempt-abort';
import type { JobRunner } from './job-runner';
import { type ErrorInfo, type Outcome, errorInfo, toAckRow } from './outcome';

/** One attempt's events in the making: what job.start said, and when (monotonic) it began. */
interface JobSpan {
  base: JobEventBase;
  began: number;
}

/** Where outcomes go: the Acker in a running node; the testing helpers pass their own. */
export interface OutcomeSink {
  ack(row: AckRow): void;
}

/**
 * Runs claimed jobs: picks the runner (main process, or the worker-process
 * pool for `cpu: true`), enforces the timeout, turns what happened into an
 * outcome and hands it to the acker. Knows every job running on this node, so
 * a cancel signal or shutdown can stop them.
 */
export class Executor {
  private readonly running = new Map<number, AttemptAbort>();

  constructor(
    private readonly registry: WorkerRegistry,
    private readonly acker: OutcomeSink,
    private readonly inProcess: JobRunner,
    /** Runs `cpu: true` workers; absent with `processes: 0`, when they run in this process. */
    private readonly pool: JobRunner | undefined,
    private readonly node: string,
    private readonly logger: Logger,
    /** A completed job's result may take this many bytes of JSON; a larger one fails the attempt. */
    private readonly maxResultBytes: number,
    /** Where job.start, job.stop and job.exception go (nothing is built when no one listens). */
    private readonly events: ObanEvents = new ObanEvents(node),
    /** The attempt hook (tracing) wraps each attempt when one is registered. */
    private readonly hooks?: ObanHooks,
  ) {}

  /**
   * Runs one claimed job; resolves (never rejects) when its slot is free again.
   * `startedMs`: when its producer started it (epoch ms), which its outcome
   * records as `attempted_at` (a job may wait claimed ahead after the claim).
   */
  async execute(job: Job, startedMs?: number): Promise<void> {
    const worker = this.registry.get(job.worker);
    const unrunnable = worker ? unrunnableReason(job) : this.unknownWorker(job);
    if (unrunnable || !worker) {
      const outcome: Outcome = { kind: 'discarded', error: { message: unrunnable! } };
      const row = toAckRow(job, outcome, 0, startedMs);
      this.acker.ack(row);
      // It never ran: no job.start, and a job.stop of no duration.
      if (this.watching()) this.emitEnd(this.span(job, false), outcome, row, undefined);
      return;
    }
    const controller = new AttemptAbort();
    this.running.set(job.id, controller);
    const runner = worker.options.cpu && this.pool ? this.pool : this.inProcess;
    let span: JobSpan | undefined;
    const started = this.watching()
      ? () => {
          span = this.span(job, runner === this.pool);
          if (this.events.has('job.start')) this.events.emit('job.start', span.base);
        }
      : undefined;
    let outcome: Outcome | null;
    let row: AckRow | null = null;
    try {
      const attempt = (trace?: TraceCarrier) => this.attempt(job, worker, runner, controller, started, trace);
      const hook = this.hooks?.attempt;
      outcome = await (hook ? hook(job, attempt) : attempt(undefined));
      if (outcome) {
        row = toAckRow(job, outcome, outcome.kind === 'failed' ? this.backoff(job, worker) : 0, startedMs);
        this.acker.ack(row);
      }
    } catch (error) {
      // Never leave the job executing: whatever went wrong here is the attempt's failure.
      outcome = { kind: 'failed', error: errorInfo(error) };
      row = toAckRow(job, outcome, this.backoff(job, worker), startedMs);
      this.acker.ack(row);
    } finally {
      this.running.delete(job.id);
    }
    // An attempt that ended before its code ran (a bad timeout, stopped while waiting for a worker process)
    // has a job.stop but no job.start.
    if (!span && outcome && this.watching()) span = this.span(job, runner === this.pool);
    if (span) this.emitEnd(span, outcome, row, controller.reason);
  }

  /** Whether anyone listens to a job event: only then are payloads built. */
  private watching(): boolean {
    const { events } = this;
    return events.has('job.stop') || events.has('job.start') || events.has('job.exception');
  }

  private span(job: Job, cpu: boolean): JobSpan {
    const queueTime = job.attemptedAt ? Math.max(0, job.attemptedAt.getTime() - job.scheduledAt.getTime()) : 0;
    const base: JobEventBase = {
      job,
      node: this.node,
      queue: job.queue,
      worker: job.worker,
      attempt: job.attempt,
      cpu,
      startTime: Date.now(),
      queueTime,
      spanContext: {},
    };
    return { base, began: performance.now() };
  }

  /** job.exception (when the attempt failed) and job.stop. */
  private emitEnd(span: JobSpan, outcome: Outcome | null, row: AckRow | null, abortReason: unknown): void {
    const duration = performance.now() - span.began;
    const stop: JobStopEvent = { ...span.base, duration, state: 'released', jobState: row?.state ?? null };
    const failed = (error: ErrorInfo) => {
      stop.state = row?.state === 'discarded' ? 'discard' : 'failure';
      stop.error = error;
      if (this.events.has('job.exception')) {
        this.events.emit('job.exception', { ...span.base, duration, state: stop.state, error });
      }
    };
    if (outcome === null) {
      // Nothing written: cancelled while running (the row says so already), or left running at shutdown.
      if (abortReason instanceof JobCancelledError) stop.state = 'cancelled';
    } else if (outcome.kind === 'completed') {
      stop.state = 'completed';
      stop.result = outcome.result;
    } else if (outcome.kind === 'failed' || outcome.kind === 'discarded') {
      failed(outcome.error);
    } else if (outcome.kind === 'snoozed') {
      stop.state = 'snoozed';
      stop.snooze = outcome.seconds;
    } else if (outcome.kind === 'cancelled') {
      stop.state = 'cancelled';
      stop.error = { message: `JobCancel: ${outcome.reason}` };
    }
    if (this.events.has('job.stop')) this.events.emit('job.stop', stop);
  }

  private unknownWorker(job: Job): string {
    return (
      `UnknownWorkerError: no @Worker named '${job.worker}' is registered on node ${this.node}, ` +
      `which runs queue '${job.queue}'; the job was discarded (retry it with Oban.retryJob once the worker is deployed)`
    );
  }

  /** Jobs running on this node now (until their outcome is handed to the acker). */
  runningJobIds(): number[] {
    return [...this.running.keys()];
  }

  /** Stops a job running here because it was cancelled; true if it was running here. */
  kill(jobId: number): boolean {
    const controller = this.running.get(jobId);
    if (!controller) return false;
    controller.abort(new JobCancelledError(jobId));
    return true;
  }

  /** Aborts every job still running (shutdown past its grace period). */
  abortAll(): void {
    for (const controller of this.running.values()) controller.abort(new ShutdownError());
  }

  private attempt(
    job: Job,
    worker: RegisteredWorker,
    runner: JobRunner,
    controller: AttemptAbort,
    started: (() => void) | undefined,
    trace: TraceCarrier | undefined,
  ): Promise<Outcome | null> {
    const timeout = this.timeout(job, worker);
    if (typeof timeout === 'string') return Promise.resolve({ kind: 'failed', error: { message: timeout } });
    return new Promise((resolve) => {
      let clearTimer: (() => void) | undefined;
      let settled = false;
      const settle = (outcome: Outcome | null) => {
        if (settled) return;
        settled = true;
        clearTimer?.();
        resolve(outcome);
      };
      // Work in this process cannot be stopped: the attempt is over for the
      // queue at once. A stoppable runner is waited for until the work stopped.
      controller.onAbort(() => !runner.stoppable && settle(abortOutcome(controller.reason, false)));
      if (timeout !== undefined) {
        const abort = () => controller.abort(new JobTimeoutError(worker.name, job.id, timeout));
        clearTimer = setLongTimeout(abort, timeout);
      }
      runner.run(job, worker, controller, started, trace).then(
        (outcome) =>
          settle(
            controller.aborted ? abortOutcome(controller.reason, runner.stoppable) : this.checkSize(outcome, worker),
          ),
        (error) =>
          settle(
            controller.aborted
              ? abortOutcome(controller.reason, runner.stoppable)
              : { kind: 'failed', error: errorInfo(error) },
          ),
      );
    });
  }

  /** The attempt's timeout in ms (undefined: none), or why the worker's timeout(job) gave none usable. */
  private timeout(job: Job, worker: RegisteredWorker): number | string | undefined {
    if (!worker.instance.timeout) return worker.options.timeout;
    const what = `InvalidTimeoutError: ${worker.name}.timeout(job)`;
    let ms: unknown;
    try {
      ms = worker.instance.timeout(job);
    } catch (error) {
      return `${what} threw (${errorInfo(error).message}); it must return milliseconds > 0`;
    }
    if (ms === undefined) return worker.options.timeout;
    if (typeof ms !== 'number' || !(ms > 0) || ms === Infinity) {
      return `${what} returned ${String(ms)}; it must return milliseconds > 0 (or undefined for the worker's default)`;
    }
    return ms;
  }

  /** A result over `maxResultBytes` fails the attempt: one huge row must not burden the batch it is written in. */
  private checkSize(outcome: Outcome, worker: RegisteredWorker): Outcome {
    if (outcome.kind !== 'completed' || outcome.result === null) return outcome;
    const bytes = outcome.bytes ?? Buffer.byteLength(JSON.stringify(outcome.result));
    if (bytes <= this.maxResultBytes) return outcome;
    const message =
      `ResultTooLargeError: ${worker.name}.perform returned ${bytes} bytes of JSON, over maxResultBytes ` +
      `(${this.maxResultBytes}); keep large data elsewhere and return a reference, or raise maxResultBytes`;
    return { kind: 'failed', error: { message } };
  }

  private backoff(job: Job, worker: RegisteredWorker): number {
    try {
      const custom = worker.instance.backoff
        ? worker.instance.backoff(job)
        : typeof worker.options.backoff === 'function'
          ? worker.options.backoff(job)
          : worker.options.backoff;
      if (custom !== undefined) {
        if (custom >= 0 && custom <= MAX_DELAY_SECONDS) return custom;
        this.logger.warn(
          `${worker.name}: backoff returned ${String(custom)}, not seconds from 0 to ${MAX_DELAY_SECONDS} (100 years); using the default`,
        );
      }
    } catch (error) {
      this.logger.warn(`${worker.name}: backoff threw (${errorInfo(error).message}); using the default`);
    }
    return defaultBackoff(job.attempt, job.maxAttempts);
  }
}

/**
 * What an aborted attempt comes to: a timeout is a failed attempt; a cancelled
 * job is already `cancelled` in its row; at shutdown a job that was really
 * stopped goes back to `available`, one that may still run is left for rescue.
 */
function abortOutcome(reason: unknown, stopped: boolean): Outcome | null {
  if (reason instanceof JobTimeoutError) return { kind: 'failed', error: errorInfo(reason) };
  if (reason instanceof ShutdownError && stopped) return { kind: 'released', reason: 'the node shut down' };
  return null;
}

/** Why a claimed row cannot run whatever its worker (written by another tool, say), or null. */
function unrunnableReason(job: Job): string | null {
  if (!isPlainObject(job.args)) {
    const got = job.args === null ? 'null' : Array.isArray(job.args) ? 'an array' : typeof job.args;
    return `InvalidArgsError: the row's args are ${got}, not a JSON object; the job was discarded`;
  }
  return null;
}
