/**
 * nest-oban: this process boots the app with `processes: N` (its pool forks
 * the worker processes; 0 runs the jobs here), inserts the batch and times it.
 */
import { Oban } from '../../lib';
import { dropSchema, uniqueSchema } from '../common/database';
import { driverMain } from './driver';
import { bootCpuApp, CPU_QUEUE, JsonJobWorker, NoopCpuWorker, ShaJobWorker } from './nest-oban-app';
import { shaBatch } from './sha-job';
import { timeBatch } from './time-batch';

driverMain(async (request, progress) => {
  const schema = uniqueSchema('bench_cpu_oban');
  const app = await bootCpuApp({
    connection: request.databaseUrl,
    prefix: schema,
    migrate: true,
    // More slots than worker processes (16, as Oban Pro's benchmark): the pool has the next job at hand when one finishes.
    queues: { [CPU_QUEUE]: request.queueLimit },
    processes: request.processes,
    // Unset unless tuned: nest-oban's default flags are part of what its plain rows time.
    ...(request.execArgv ? { processExecArgv: request.execArgv } : {}),
  });
  try {
    const oban = app.get(Oban);
    const keys = Array.from({ length: request.jobs }, (_, key) => key);
    const entries =
      request.job === 'noop'
        ? keys.map(() => ({ worker: NoopCpuWorker, args: {} }))
        : request.job === 'json'
          ? keys.map((key) => ({ worker: JsonJobWorker, args: { key, rounds: request.jsonRounds } }))
          : shaBatch(request.jobs, request.hashes).map((args) => ({ worker: ShaJobWorker, args }));
    const batch = await timeBatch('nest-oban', schema, request, () => oban.insertAll(entries), progress);
    const rssMb = (await oban.checkProcesses()).map((p) => Math.round((p.rss ?? 0) / 1024 / 1024));
    return { ...batch, rssMb };
  } finally {
    await app.close();
    await dropSchema(request.databaseUrl, schema);
  }
});
