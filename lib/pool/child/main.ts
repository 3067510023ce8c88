/**
 * Entry of a nest-oban pool process (a "worker process", forked by the
 * ProcessPool, which finds this file by path: nothing in the main process
 * imports pool/child/). It boots the modules that declare the cpu workers,
 * runs the jobs the main process hands it (many at once; each job is async),
 * and on shutdown closes its Nest context so the modules' teardown hooks run.
 * It runs only as the process's main module.
 */
import 'reflect-metadata';
import type { TraceCarrier } from '../../events/hooks';
import { type Outcome, errorInfo, outcomeOfError, outcomeOfReturn } from '../../queue/outcome';
import { markPoolProcess } from '../../util/process-role';
import type { ParentMessage } from '../protocol/messages';
import { type BootedContext, bootContext } from './boot-context';
import { callMainProcess, send, settleCall } from './channel';
import { sendOutcome } from './send-outcome';
import { inTraceContext } from './trace-context';
import { resetYoungGeneration } from './young-generation';

let booted: BootedContext | undefined;
let running = 0;
let shuttingDown = false;

if (require.main === module) startWorkerProcess();

function startWorkerProcess(): void {
  markPoolProcess(callMainProcess);

  // A crash is reported with its cause before the process dies; the main process
  // records it on the jobs this process held and starts a replacement.
  const die = (error: unknown) => {
    send({ type: 'fatal', error: errorInfo(error) }, () => process.exit(1));
    setTimeout(() => process.exit(1), 1_000).unref();
  };
  process.on('uncaughtException', die);
  process.on('unhandledRejection', die);
  // The main process is gone (even by kill -9): nobody is left to hand back results.
  process.on('disconnect', () => process.exit(shuttingDown ? 0 : 1));
  // Ctrl-C signals the whole process group, and watchers (nest start --watch)
  // the whole process tree: signals are the main process's to handle. It stops
  // this process in order ('shutdown': running jobs finish or go back, teardown
  // hooks run); if it dies instead, 'disconnect' above ends this one.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => undefined);

  process.on('message', (message: ParentMessage) => {
    switch (message.type) {
      case 'boot':
        bootContext(message.spec).then(
          (context) => {
            booted = context;
            // Before the first job, not during one: the collection takes ~150 ms.
            resetYoungGeneration();
            send({ type: 'ready', pid: process.pid, workers: [...context.workers.keys()] });
          },
          // The bare message: it is read as the reason the process could not start.
          (error) =>
            send(
              { type: 'boot-failed', error: { message: error?.message ?? String(error), stack: error?.stack } },
              () => process.exit(1),
            ),
        );
        break;
      case 'run':
        run(message.job, message.trace);
        break;
      case 'call-result':
        settleCall(message);
        break;
      case 'stats':
        send({ type: 'stats', rss: process.memoryUsage().rss, running });
        break;
      case 'shutdown':
        void shutdown();
        break;
    }
  });
}

type RunJob = Extract<ParentMessage, { type: 'run' }>['job'];

function run(job: RunJob, trace: TraceCarrier | undefined): void {
  running++;
  const finish = (outcome: Outcome) => {
    running--;
    sendOutcome(job.id, job.worker, outcome);
  };
  const outcome = trace ? inTraceContext(trace, () => attempt(job)) : attempt(job);
  if (outcome instanceof Promise) void outcome.then(finish);
  else finish(outcome);
}

/**
 * The outcome of one attempt; never throws, whatever perform returned or
 * threw. A synchronous perform's outcome is ready (and sent) at once, before
 * the next job starts: if a later job kills the process, the main process
 * already knows this one finished.
 */
function attempt(job: RunJob): Outcome | Promise<Outcome> {
  try {
    const worker = booted?.workers.get(job.worker);
    if (!worker) throw new Error(`worker ${job.worker} is not loaded in worker process ${process.pid}`);
    // Stopping a job here means stopping the process; the signal never fires.
    const value = worker.perform(job, { signal: new AbortController().signal });
    if (typeof (value as PromiseLike<unknown> | undefined)?.then !== 'function') {
      return outcomeOfReturn(value, job.worker);
    }
    return Promise.resolve(value)
      .then((result) => outcomeOfReturn(result, job.worker))
      .catch(failure(job));
  } catch (error) {
    return failure(job)(error);
  }
}

function failure(job: RunJob): (error: unknown) => Outcome {
  return (error) => {
    try {
      return outcomeOfError(error);
    } catch {
      return { kind: 'failed', error: { message: `Error: ${job.worker}.perform threw a value that cannot be read` } };
    }
  };
}

async function shutdown(): Promise<void> {
  shuttingDown = true;
  await booted?.app.close();
  process.exit(0);
}
