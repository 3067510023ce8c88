import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type INestApplicationContext, Module } from '@nestjs/common';
import { type Job, Oban, type ObanModuleOptions, type PerformContext, Worker } from '../../lib';
import { createApp } from '../support/app';
import { listenBackends, terminateListener, withAppName } from '../support/backends';
import { DATABASE_URL, TestSchema } from '../support/db';
import { TcpProxy } from '../support/tcp-proxy';
import { waitFor } from '../support/wait';

/** What the workers of this file saw, in this process. */
const seen = { started: new Map<number, number>(), aborted: new Map<number, string>() };

@Worker({ queue: 'periodic' })
class WaitForAbortWorker {
  perform(job: Job, { signal }: PerformContext) {
    seen.started.set(job.id, Date.now());
    return new Promise<void>((resolve) => {
      signal.addEventListener('abort', () => {
        seen.aborted.set(job.id, (signal.reason as Error)?.name ?? String(signal.reason));
        resolve();
      });
    });
  }
}

@Worker({ queue: 'notified' })
class StartWorker {
  perform(job: Job) {
    seen.started.set(job.id, Date.now());
  }
}

@Module({ providers: [WaitForAbortWorker, StartWorker] })
class WorkersModule {}

/**
 * A node whose LISTEN connection is killed (pg_terminate_backend) and kept
 * from coming back (its connections go through a proxy that refuses new
 * ones): signals sent meanwhile must still reach it.
 */
describe('queue signals survive a lost LISTEN connection', () => {
  const schema = new TestSchema('conn_listen');
  const proxy = TcpProxy.forUrl(DATABASE_URL);
  const apps: INestApplicationContext[] = [];
  const base = { prefix: schema.prefix, heartbeatInterval: 200, leaderTtl: 800, nodeTtl: 2_000 };
  const boot = async (name: string, oban: ObanModuleOptions, url = DATABASE_URL) => {
    const app = await createApp({
      oban: { ...base, connection: withAppName(url, `${schema.prefix}_${name}`), ...oban },
      imports: [WorkersModule],
    });
    apps.push(app);
    return app;
  };
  let control: Oban; // another node on the same schema, sending the signals
  before(async () => {
    await schema.migrate();
    await proxy.start();
    control = (await boot('control', { queues: {} })).get(Oban);
  });
  after(async () => {
    proxy.refuseNew(false);
    for (const app of apps.reverse()) await app.close();
    await proxy.stop();
    await schema.drop();
  });

  describe('checked periodically while LISTEN stays down', () => {
    let node: Oban;
    before(async () => {
      node = (await boot('periodic', { queues: { periodic: 2 }, reconcileInterval: 200 }, proxy.url(DATABASE_URL))).get(
        Oban,
      );
    });

    it('a pause sent while the LISTEN connection is down reaches the node', async () => {
      proxy.refuseNew(true);
      try {
        await terminateListener(schema, `${schema.prefix}_periodic`);
        await control.pauseQueue('periodic');
        await waitFor('the node paused', () => node.checkQueue('periodic')?.paused, { timeout: 5_000 });
        assert.deepEqual(await listenBackends(schema, `${schema.prefix}_periodic`), [], 'LISTEN is still down');
      } finally {
        proxy.refuseNew(false);
      }
      await control.resumeQueue('periodic');
      await waitFor('the node resumed', () => node.checkQueue('periodic')?.paused === false, { timeout: 5_000 });
    });

    it('a cancel sent while the LISTEN connection is down fires the AbortSignal of the running job', async () => {
      const job = await control.insert(WaitForAbortWorker, {});
      await waitFor('the job running', () => seen.started.has(job.id));
      await waitFor('LISTEN up again', async () => (await listenBackends(schema, `${schema.prefix}_periodic`)).length);
      proxy.refuseNew(true);
      try {
        await terminateListener(schema, `${schema.prefix}_periodic`);
        assert.equal((await control.cancelJob(job.id))?.state, 'cancelled');
        await waitFor('the abort', () => seen.aborted.get(job.id), { timeout: 5_000 });
        assert.equal(seen.aborted.get(job.id), 'JobCancelledError');
        assert.equal(node.checkQueue('periodic')?.running, 0, 'its slot is free');
      } finally {
        proxy.refuseNew(false);
      }
      assert.equal((await control.getJob(job.id))?.state, 'cancelled');
    });
  });

  describe('connections that go silent', () => {
    // A proxy of its own, so only this node's connections go silent.
    const quiet = TcpProxy.forUrl(DATABASE_URL);
    let app: INestApplicationContext;
    before(async () => {
      await quiet.start();
      const oban = {
        queues: { silent: 1 },
        reconcileInterval: 300,
        statementTimeout: 300,
        connectTimeout: 500,
        stageInterval: 60_000,
      };
      app = await boot('silent', oban, quiet.url(DATABASE_URL));
    });
    after(async () => {
      await app.close();
      apps.splice(apps.indexOf(app), 1);
      await quiet.stop();
    });

    it('a LISTEN connection that goes silent is found by its ping and replaced; notifications flow again', async () => {
      const appName = `${schema.prefix}_silent`;
      const [before] = await listenBackends(schema, appName);
      // Like a firewall forgetting the node's connections: nothing passes, nothing is closed.
      assert.ok(quiet.freezeOpen() > 0);
      const replaced = await waitFor(
        'a new LISTEN connection',
        async () => (await listenBackends(schema, appName)).find((pid) => pid !== before),
        { timeout: 5_000 },
      );
      assert.ok(replaced);
      const job = await control.insert(StartWorker, {}, { queue: 'silent' });
      await waitFor('the job started (by notification: the poll is a minute away)', () => seen.started.has(job.id), {
        timeout: 5_000,
      });
    });
  });

  describe('checked on reconnect', () => {
    let node: Oban;
    before(async () => {
      // No periodic check and no poll within the test: only the reconnect can bring the news.
      node = (
        await boot(
          'reconnect',
          { queues: { notified: 2 }, reconcileInterval: 60_000, stageInterval: 60_000 },
          proxy.url(DATABASE_URL),
        )
      ).get(Oban);
    });

    it('a scale sent while the LISTEN connection is down is applied once it is back', async () => {
      proxy.refuseNew(true);
      try {
        await terminateListener(schema, `${schema.prefix}_reconnect`);
        await control.scaleQueue('notified', 5);
      } finally {
        proxy.refuseNew(false);
      }
      await waitFor('the node scaled', () => node.checkQueue('notified')?.limit === 5, { timeout: 5_000 });
    });

    it('a job inserted right after the LISTEN backend was killed starts within about a second', async () => {
      await waitFor('LISTEN up', async () => (await listenBackends(schema, `${schema.prefix}_reconnect`)).length);
      await terminateListener(schema, `${schema.prefix}_reconnect`);
      const job = await control.insert(StartWorker, {});
      const insertedAt = Date.now();
      await waitFor('the job started', () => seen.started.has(job.id), { timeout: 5_000 });
      const delay = seen.started.get(job.id)! - insertedAt;
      assert.ok(delay < 1_500, `started ${delay} ms after the insert (the poll would take 60 s)`);
    });
  });
});
