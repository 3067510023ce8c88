import { startPgBoss, stopPgBoss } from '../common/pg-boss';
import { PEER_QUEUE, type PeerLibrary } from './peers';
import type { ShaArgs } from './sha-job';

/**
 * pg-boss at its defaults (polling every 2 s); concurrency N is one `work()`
 * loop fetching `batchSize: N` jobs per poll, its only concurrency setting.
 */
export const pgBoss: PeerLibrary = {
  async producer(url, schema) {
    const boss = await startPgBoss(url, schema);
    await boss.createQueue(PEER_QUEUE);
    return {
      insert: async (jobs) => {
        await boss.insert(jobs.map((data) => ({ name: PEER_QUEUE, data })));
      },
      close: () => stopPgBoss(boss),
    };
  },

  async worker(url, schema, concurrency, task) {
    const boss = await startPgBoss(url, schema);
    await boss.work<ShaArgs>(PEER_QUEUE, { batchSize: concurrency }, async (jobs) => {
      for (const job of jobs) task(job.data);
    });
    return () => stopPgBoss(boss);
  },
};
