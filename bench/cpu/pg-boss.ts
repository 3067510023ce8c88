import type { Job } from 'pg-boss';
import { createPgBossQueue, pgBossWorkOptions, startPgBoss, stopPgBoss } from '../common/pg-boss';
import { PEER_QUEUE, type PeerLibrary } from './peers';
import type { ShaArgs } from './sha-job';

/**
 * pg-boss at its defaults (polling every 2 s); concurrency N is `localConcurrency: N`
 * fetch loops of one job each (common/pg-boss.ts).
 */
export const pgBoss: PeerLibrary = {
  async producer(url, schema) {
    const boss = await startPgBoss(url, schema);
    await createPgBossQueue(boss, PEER_QUEUE, 'defaults');
    return {
      insert: async (jobs) => {
        await boss.insert(
          PEER_QUEUE,
          jobs.map((data) => ({ data })),
        );
      },
      close: () => stopPgBoss(boss),
    };
  },

  async worker(url, schema, concurrency, task) {
    const boss = await startPgBoss(url, schema);
    await boss.work<ShaArgs>(PEER_QUEUE, pgBossWorkOptions('defaults', concurrency), async (jobs: Job<ShaArgs>[]) => {
      for (const job of jobs) task(job.data);
    });
    return () => stopPgBoss(boss);
  },
};
