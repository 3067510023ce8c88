/**
 * graphile-worker or pg-boss: this process inserts the batch and times it;
 * N worker processes (peer-worker.ts), started beforehand, run it. These
 * libraries use a second core only through a second worker process.
 */
import { dropSchema, uniqueSchema } from '../common/database';
import { startWorker, stopWorker } from '../common/worker-process';
import { driverMain } from './driver';
import { loadPeer, type PeerName } from './peers';
import { shaBatch } from './sha-job';
import { timeBatch } from './time-batch';

driverMain(async (request, progress) => {
  const system = request.driver as PeerName;
  const schema = uniqueSchema(`bench_cpu_${system.replace('-', '_')}`);
  const producer = await loadPeer(system).producer(request.databaseUrl, schema);
  try {
    const args = [system, request.databaseUrl, schema, String(request.peerConcurrency)];
    const workers = await Promise.all(
      Array.from({ length: request.processes }, () => startWorker(require.resolve('./peer-worker'), args)),
    );
    try {
      const jobs = shaBatch(request.jobs, request.hashes);
      return await timeBatch(system, schema, request, () => producer.insert(jobs), progress);
    } finally {
      await Promise.all(workers.map(stopWorker));
    }
  } finally {
    await producer.close();
    await dropSchema(request.databaseUrl, schema);
  }
});
