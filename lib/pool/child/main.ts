/**
 * Entry of a nest-oban pool process (a "worker process", forked by the
 * ProcessPool, which finds this file by path: nothing in the main process
 * imports pool/child/). It boots the modules that declare the cpu workers,
 * runs the jobs the main process hands it (many at once; each job is async),
 * and on shutdown closes its Nest context so the modules' teardown hooks run.
 * It runs only as the process's main module.
 */
import 'reflect-metadata';
import { errorInfo, outcomeOfError, outcomeOfReturn } from '../../queue/outcome';
import { markPoolProcess } from '../../util/process-role';
import type { ParentMessage } from '../protocol/messages';
import { type BootedContext, bootContext } from './boot-context';
import { callMainProcess, send, settleCall } from './channel';

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

  process.on('message', (message: ParentMessage) => {
    switch (message.type) {
      case 'boot':
        bootContext(message.spec).then(
          (context) => {
            booted = context;
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
        void run(message.job);
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

async function run(job: Extract<ParentMessage, { type: 'run' }>['job']): Promise<void> {
  running++;
  const worker = booted?.workers.get(job.worker);
  let outcome;
  try {
    if (!worker) throw new Error(`worker ${job.worker} is not loaded in worker process ${process.pid}`);
    // Stopping a job here means stopping the process; the signal never fires.
    outcome = outcomeOfReturn(await worker.perform(job, { signal: new AbortController().signal }), job.worker);
  } catch (error) {
    outcome = outcomeOfError(error);
  } finally {
    running--;
  }
  send({ type: 'outcome', jobId: job.id, outcome });
}

async function shutdown(): Promise<void> {
  shuttingDown = true;
  await booted?.app.close();
  process.exit(0);
}
