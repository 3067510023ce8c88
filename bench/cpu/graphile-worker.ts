import { graphileUtils, runGraphileWorker } from '../common/graphile-worker';
import { PEER_QUEUE, type PeerLibrary } from './peers';
import type { ShaArgs } from './sha-job';

/** graphile-worker at its defaults but for `concurrency` (common/graphile-worker.ts). */
export const graphileWorker: PeerLibrary = {
  async producer(url, schema) {
    const utils = await graphileUtils(url, schema);
    return {
      insert: async (jobs) => {
        await utils.addJobs(jobs.map((payload) => ({ identifier: PEER_QUEUE, payload })));
      },
      close: async () => {
        await utils.release();
      },
    };
  },

  async worker(url, schema, concurrency, task) {
    const runner = await runGraphileWorker(url, schema, concurrency, {
      [PEER_QUEUE]: async (payload) => task(payload as ShaArgs),
    });
    return () => runner.stop();
  },
};
