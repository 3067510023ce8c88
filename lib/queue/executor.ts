import type { Logger } from '@nestjs/common';
import type { Job } from '../job';
import type { AckRow } from '../store/pg-job-store';
import type { RegisteredWorker, WorkerRegistry } from '../worker/worker-registry';
import { defaultBackoff } from './backoff';
import { JobCancelledError, JobTimeoutError, ShutdownError } from './abort-reasons';
import type { JobRunner } from './job-runner';
import { type Outcome, errorInfo, toAckRow } from './outcome';

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
  private readonly running = new Map<number, AbortController>();

  constructor(
    private readonly registry: WorkerRegistry,
    private readonly acker: OutcomeSink,
    private readonly inProcess: JobRunner,
    /** Runs `cpu: true` workers; absent with `processes: 0`, when they run in this process. */
    private readonly pool: JobRunner | undefined,
    private readonly node: string,
    private readonly logger: Logger,
  ) {}

  /** Runs one claimed job; resolves (never rejects) when its slot is free again. */
  async execute(job: Job): Promise<void> {
    const worker = this.registry.get(job.worker);
    if (!worker) {
      this.acker.ack(
        toAckRow(job, {
          kind: 'discarded',
          error: {
            message:
              `UnknownWorkerError: no @Worker named '${job.worker}' is registered on node ${this.node}, ` +
              `which runs queue '${job.queue}'; the job was discarded (retry it with Oban.retryJob once the worker is deployed)`,
          },
        }),
      );
      return;
    }
    const controller = new AbortController();
    this.running.set(job.id, controller);
    try {
      const outcome = await this.attempt(job, worker, controller);
      if (outcome) this.acker.ack(toAckRow(job, outcome, outcome.kind === 'failed' ? this.backoff(job, worker) : 0));
    } catch (error) {
      this.logger.error(`job ${job.id} (${job.worker}) could not be recorded: ${errorInfo(error).message}`);
    } finally {
      this.running.delete(job.id);
    }
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

  private attempt(job: Job, worker: RegisteredWorker, controller: AbortController): Promise<Outcome | null> {
    const runner = worker.options.cpu && this.pool ? this.pool : this.inProcess;
    const timeout = this.timeout(job, worker);
    const signal = controller.signal;
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      const settle = (outcome: Outcome | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve(outcome);
      };
      // Work in this process cannot be stopped: the attempt is over for the
      // queue at once. A stoppable runner is waited for until the work stopped.
      const onAbort = () => !runner.stoppable && settle(abortOutcome(signal.reason, false));
      signal.addEventListener('abort', onAbort);
      if (timeout !== undefined) {
        timer = setTimeout(() => controller.abort(new JobTimeoutError(worker.name, job.id, timeout)), timeout);
      }
      runner.run(job, worker, signal).then(
        (outcome) => settle(signal.aborted ? abortOutcome(signal.reason, runner.stoppable) : outcome),
        (error) =>
          settle(
            signal.aborted
              ? abortOutcome(signal.reason, runner.stoppable)
              : { kind: 'failed', error: errorInfo(error) },
          ),
      );
    });
  }

  private timeout(job: Job, worker: RegisteredWorker): number | undefined {
    const fromMethod = worker.instance.timeout?.(job);
    return fromMethod ?? worker.options.timeout;
  }

  private backoff(job: Job, worker: RegisteredWorker): number {
    try {
      const custom = worker.instance.backoff
        ? worker.instance.backoff(job)
        : typeof worker.options.backoff === 'function'
          ? worker.options.backoff(job)
          : worker.options.backoff;
      if (custom !== undefined) {
        if (Number.isFinite(custom) && custom >= 0) return custom;
        this.logger.warn(`${worker.name}: backoff returned ${String(custom)}, not seconds >= 0; using the default`);
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
