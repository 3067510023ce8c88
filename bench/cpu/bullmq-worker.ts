/**
 * BullMQ's worker process for the CPU benchmark, apart from the driver that
 * inserts: a Worker with the sandboxed processor (bullmq-processor.ts) in
 * forked child processes (`useWorkerThreads: false`), `concurrency` = N, so
 * N children. argv: key prefix, N. Runs until told to stop.
 */
import { Worker } from 'bullmq';
import { redisConnection } from '../common/redis';
import { serveParent } from '../common/worker-process';
import { BULLMQ_QUEUE } from './bullmq-queue';

const [prefix, children] = process.argv.slice(2);
const worker = new Worker(BULLMQ_QUEUE, require.resolve('./bullmq-processor'), {
  connection: redisConnection(),
  prefix,
  concurrency: Number(children),
  useWorkerThreads: false,
});
worker.on('error', (error) => console.error(`bullmq: ${error.message}`));
worker.waitUntilReady().then(
  () => serveParent(() => worker.close()),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
