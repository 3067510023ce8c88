import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { INestApplicationContext } from '@nestjs/common';
import { Oban, type ObanModuleOptions } from '../lib';
import { ClusterStore } from '../lib/store/cluster-store';
import { createApp } from './support/app';
import { DATABASE_URL, TestSchema } from './support/db';
import { sleep, waitFor } from './support/wait';

describe('pruner', () => {
  const schema = new TestSchema('cluster_pruner');
  const apps: INestApplicationContext[] = [];
  before(() => schema.migrate());
  after(async () => {
    for (const app of apps) await app.close();
    await schema.drop();
  });
  const boot = async (extra: Partial<ObanModuleOptions>) => {
    const app = await createApp({
      oban: {
        connection: DATABASE_URL,
        prefix: schema.prefix,
        migrate: true,
        queues: {},
        heartbeatInterval: 100,
        leaderTtl: 400,
        nodeTtl: 400,
        ...extra,
      },
    });
    apps.push(app);
    await waitFor('leadership', () => app.get(Oban).isLeader());
    return app;
  };

  /** Jobs in each state, old (finished 2 h ago) and recent; returns nothing, see counts below. */
  const seed = async () => {
    await schema.query(`DELETE FROM ${schema.jobs}`);
    const add = (state: string, n: number, at: string) =>
      schema.query(
        `INSERT INTO ${schema.jobs} (state, worker, queue, inserted_at, scheduled_at, completed_at, cancelled_at, discarded_at)
         SELECT $1::"${schema.prefix}".oban_job_state, 'W', 'q', ${at}, ${at},
                CASE WHEN $1 = 'completed' THEN ${at} END,
                CASE WHEN $1 = 'cancelled' THEN ${at} END,
                CASE WHEN $1 = 'discarded' THEN ${at} END
         FROM generate_series(1, $2)`,
        [state, n],
      );
    const old = `now() - interval '2 hours'`;
    await add('completed', 30, old);
    await add('cancelled', 6, old);
    await add('discarded', 6, old);
    await add('completed', 4, 'now()');
    await add('discarded', 2, `now() - interval '10 minutes'`);
    for (const state of ['scheduled', 'available', 'retryable']) await add(state, 3, old);
  };
  const oldFinished = `(state = 'completed' AND completed_at < now() - interval '1 hour')
    OR (state = 'cancelled' AND cancelled_at < now() - interval '1 hour')
    OR (state = 'discarded' AND discarded_at < now() - interval '1 hour')`;

  it('deletes finished jobs older than maxAge, keeps recent and unfinished ones', async () => {
    await seed();
    assert.equal(await schema.count(oldFinished), 42);
    const app = await boot({ pruner: { maxAge: 3600, interval: 50, limit: 7 } });
    await waitFor('old finished jobs pruned', async () => (await schema.count(oldFinished)) === 0);
    assert.equal(await schema.count(`state = 'completed'`), 4);
    assert.equal(await schema.count(`state = 'discarded'`), 2);
    assert.equal(await schema.count(`state IN ('scheduled', 'available', 'retryable')`), 9);
    await app.close();
    apps.pop();
  });

  it('deletes in batches of at most `limit` rows', async () => {
    await seed();
    const app = await boot({ pruner: false });
    const cluster = app.get(ClusterStore);
    const batches: number[] = [];
    for (let n = 7; n === 7;) batches.push((n = await cluster.pruneJobs(3600, 7)));
    assert.deepEqual(batches, [7, 7, 7, 7, 7, 7, 0]);
    assert.equal(await schema.count(), 15);
    await app.close();
    apps.pop();
  });

  it('pruner: false keeps every job', async () => {
    await seed();
    await boot({ pruner: false });
    await sleep(1_000);
    assert.equal(await schema.count(oldFinished), 42);
  });

  it('rejects bad pruner options by name', async () => {
    await assert.rejects(
      createApp({ oban: { connection: DATABASE_URL, prefix: schema.prefix, pruner: { maxAge: -1 } } }),
      /pruner\.maxAge \(seconds\) must be a number >= 0, got -1/,
    );
    await assert.rejects(
      createApp({ oban: { connection: DATABASE_URL, prefix: schema.prefix, pruner: { maxAg: 5 } as any } }),
      /pruner: unknown option 'maxAg'/,
    );
  });
});
