import { performance } from 'node:perf_hooks';
import { withClient } from '../common/database';
import { type Storage, unfinishedJobsSql } from '../common/systems';
import { sleep } from '../common/wait';
import type { BatchResult, DriverRequest } from './driver';

/**
 * Times a queue's batch from the insert until the database shows every job
 * finished: one stopwatch for nest-oban and its peers, as in the throughput
 * benchmark's drains. Polled every 25 ms on a connection of its own, seldom
 * enough not to compete with the workers it times. A run still going at the
 * time box stops there, its time extrapolated from the rate reached.
 */
export function timeBatch(
  system: Storage,
  schema: string,
  request: DriverRequest,
  insert: () => Promise<unknown>,
  progress: (fraction: number) => void,
): Promise<BatchResult> {
  return withClient(request.databaseUrl, async (client) => {
    const t0 = performance.now();
    await insert();
    for (;;) {
      const { rows } = await client.query(unfinishedJobsSql(system, schema));
      const done = request.jobs - rows[0].n;
      const seconds = (performance.now() - t0) / 1000;
      progress(done / request.jobs);
      if (done >= request.jobs) return { seconds, timedOut: false };
      if (seconds * 1000 >= request.timeboxMs) {
        return { seconds: (seconds * request.jobs) / Math.max(1, done), timedOut: true };
      }
      await sleep(25);
    }
  });
}
