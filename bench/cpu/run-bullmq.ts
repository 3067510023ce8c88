/**
 * BullMQ: this process inserts the batch (a Queue under a key prefix of its
 * own) and times it from the insert until Redis shows every job completed,
 * polled every 25 ms (its N sandbox children forked beforehand); one worker process (bullmq-worker.ts), started
 * beforehand, runs the jobs in N sandboxed child processes. Without Redis the
 * row is reported as not reachable.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Queue } from 'bullmq';
import { redisConnection, redisReachable } from '../common/redis';
import { sleep } from '../common/wait';
import { startWorker, stopWorker } from '../common/worker-process';
import { BULLMQ_QUEUE } from './bullmq-queue';
import { driverMain } from './driver';
import { shaBatch } from './sha-job';

driverMain(async (request, progress) => {
  if (request.job !== 'sha') throw new Error('bench: BullMQ runs the SHA job only');
  if (!(await redisReachable())) return { seconds: NaN, timedOut: false, unavailable: 'Redis not reachable' };
  const prefix = `bench_cpu_bull_${randomBytes(3).toString('hex')}`;
  const queue = new Queue(BULLMQ_QUEUE, { connection: redisConnection(), prefix });
  try {
    await queue.waitUntilReady();
    const worker = await startWorker(require.resolve('./bullmq-worker'), [prefix, String(request.processes)]);
    try {
      // BullMQ forks its sandbox children at the first jobs: N one-hash jobs, untimed, fork them all first,
      // as nest-oban's pool and the floor's processes are started before their clocks start.
      const warm = Array.from({ length: request.processes }, (_, i) => ({
        name: BULLMQ_QUEUE,
        data: { key: -1 - i, hashes: 1 },
      }));
      await queue.addBulk(warm);
      const finished = async () => {
        const counts = await queue.getJobCounts('completed', 'failed');
        return counts.completed + counts.failed;
      };
      while ((await finished()) < warm.length) await sleep(25);
      const jobs = shaBatch(request.jobs, request.hashes).map((data) => ({ name: BULLMQ_QUEUE, data }));
      const t0 = performance.now();
      await queue.addBulk(jobs);
      for (;;) {
        const done = (await finished()) - warm.length;
        const seconds = (performance.now() - t0) / 1000;
        progress(done / request.jobs);
        if (done >= request.jobs) return { seconds, timedOut: false };
        if (seconds * 1000 >= request.timeboxMs) {
          return { seconds: (seconds * request.jobs) / Math.max(1, done), timedOut: true };
        }
        await sleep(25);
      }
    } finally {
      await stopWorker(worker);
    }
  } finally {
    await queue.obliterate({ force: true });
    await queue.close();
  }
});
