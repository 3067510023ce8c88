import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { INestApplicationContext } from '@nestjs/common';
import { Oban, Worker, type Job } from '../lib';
import { createApp } from './support/app';
import { listenBackends, terminateListener, withAppName } from './support/backends';
import { DATABASE_URL, TestSchema } from './support/db';
import { waitFor } from './support/wait';

@Worker({ queue: 'shared' })
class DoubleWorker {
  perform(job: Job<{ n: number }>) {
    return { doubled: job.args.n * 2 };
  }
}

/** Relay LISTENs on the node's Notifier: one LISTEN connection per node, kept up by the notifier. */
describe('relay shares the node notifier', () => {
  const schema = new TestSchema('relay_notifier');
  const appName = `${schema.prefix}_node`;
  let app: INestApplicationContext;
  let oban: Oban;
  before(async () => {
    app = await createApp({
      // The poll (every stageInterval ms) is an hour away: what ends in seconds was notified.
      oban: {
        connection: withAppName(DATABASE_URL, appName),
        prefix: schema.prefix,
        migrate: true,
        queues: { shared: 2 },
        stageInterval: 3_600_000,
        reconcileInterval: 200,
      },
      providers: [DoubleWorker],
    });
    oban = app.get(Oban);
  });
  after(async () => {
    await app?.close();
    await schema.drop();
  });

  it('a node awaiting a job holds one LISTEN connection, which also LISTENs on the relay channel', async () => {
    assert.deepEqual(await oban.relay(DoubleWorker, { n: 2 }, { timeout: 10_000 }), { doubled: 4 });
    assert.equal((await listenBackends(schema, appName)).length, 1, 'one LISTEN connection');
    const [{ query }] = await schema.query<{ query: string }>(
      `SELECT query FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN %'`,
      [appName],
    );
    assert.match(query, /relay/, `the node's connection LISTENs on the relay channel: ${query}`);
  });

  it('after the LISTEN connection is killed and comes back, relay is notified again', async () => {
    const killed = await terminateListener(schema, appName);
    await waitFor(
      'the LISTEN connection back',
      async () => (await listenBackends(schema, appName)).find((pid) => pid !== killed),
      { timeout: 10_000 },
    );
    // Inserted after the reconnect's catch-up poll: only a notification on the relay channel settles it in time.
    assert.deepEqual(await oban.relay(DoubleWorker, { n: 21 }, { timeout: 5_000 }), { doubled: 42 });
    assert.equal((await listenBackends(schema, appName)).length, 1, 'still one LISTEN connection');
  });
});
