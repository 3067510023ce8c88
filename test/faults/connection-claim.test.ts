import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type INestApplicationContext, Module } from '@nestjs/common';
import { Pool } from 'pg';
import { type Job, Oban, type ObanModuleOptions, Worker } from '../../lib';
import { createApp } from '../support/app';
import { withAppName } from '../support/backends';
import { DATABASE_URL, TestSchema } from '../support/db';
import { TcpProxy } from '../support/tcp-proxy';
import { sleep, waitFor } from '../support/wait';

/** Runs of each job in this process. */
const runs = new Map<number, number>();

@Worker({ queue: 'claims' })
class CountWorker {
  perform(job: Job) {
    runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
  }
}

@Module({ providers: [CountWorker] })
class WorkersModule {}

/** What every claim sends: EXECUTE of the claim the connection prepared (lib/db/prepared-script.ts). */
const claimStatement = (prefix: string) => `EXECUTE "xoban_fetch_jobs_${prefix}"`;

describe('claims whose reply is lost, and statements that hang', () => {
  const schema = new TestSchema('conn_claim');
  const proxy = TcpProxy.forUrl(DATABASE_URL);
  const apps: INestApplicationContext[] = [];
  let control: Oban;
  const boot = async (name: string, oban: ObanModuleOptions) => {
    const app = await createApp({
      oban: { prefix: schema.prefix, node: name, ...oban, connection: withAppName(String(oban.connection), name) },
      imports: [WorkersModule],
    });
    apps.push(app);
    return app;
  };
  /** Each test's node runs queue 'claims' alone, and stops at the end of its test. */
  const withNode = async (name: string, oban: ObanModuleOptions, test: (node: Oban) => Promise<void>) => {
    const app = await boot(name, oban);
    try {
      await test(app.get(Oban));
    } finally {
      apps.splice(apps.indexOf(app), 1);
      await app.close();
    }
  };
  before(async () => {
    await schema.migrate();
    await proxy.start();
    control = (await boot(`${schema.prefix}_control`, { connection: DATABASE_URL, queues: {} })).get(Oban);
  });
  after(async () => {
    for (const app of apps.reverse()) await app.close();
    await proxy.stop();
    await schema.drop();
  });

  const states = (ids: number[]) =>
    schema.query<{ id: string; state: string; attempt: number; node: string | null; errors: unknown[] }>(
      `SELECT id, state, attempt, attempted_by[1] AS node, errors FROM ${schema.jobs} WHERE id = ANY($1) ORDER BY id`,
      [ids],
    );
  const settled = (ids: number[]) =>
    waitFor(
      `jobs ${ids.join(', ')} completed`,
      async () => {
        const rows = await states(ids);
        return rows.every((r) => r.state === 'completed') && rows;
      },
      { timeout: 10_000, interval: 50 },
    );

  it('a claim that commits but whose reply is lost is put back, with its attempt, and runs', async () => {
    const options = { connection: proxy.url(DATABASE_URL), queues: { claims: 5 }, reconcileInterval: 200 };
    await withNode(`${schema.prefix}_cut`, options, async () => {
      const warmUp = await control.insert(CountWorker, {});
      await settled([warmUp.id]);

      const trap = proxy.cutAfter(claimStatement(schema.prefix), 1_000);
      const jobs = await control.insertAll([1, 2, 3].map((n) => ({ worker: CountWorker, args: { n } })));
      const ids = jobs.map((j) => j.id);
      await trap.sent;
      const claimed = await waitFor('the claim committed while its reply is held back', async () => {
        const rows = await states(ids);
        return rows.every((r) => r.state === 'executing' && r.attempt === 1) && rows;
      });
      assert.ok(
        claimed.every((r) => r.node === `${schema.prefix}_cut`),
        'claimed by the node',
      );
      await trap.cut;

      const done = await settled(ids);
      assert.deepEqual(
        done.map((r) => [r.attempt, r.errors.length]),
        ids.map(() => [1, 0]),
        'the lost claim cost no attempt and left no error',
      );
      assert.deepEqual(
        ids.map((id) => runs.get(id)),
        ids.map(() => 1),
        'each job ran once',
      );
    });
  });

  it('a claim waiting on a lock is cancelled at statementTimeout and retried; the job runs once the lock is gone', async () => {
    const appName = `${schema.prefix}_lock`;
    const options = { connection: DATABASE_URL, queues: { claims: { limit: 2, paused: true } }, statementTimeout: 300 };
    await withNode(appName, options, async (node) => {
      const job = await control.insert(CountWorker, {});
      const locker = new Pool({ connectionString: DATABASE_URL, max: 1 });
      const client = await locker.connect();
      let longestWait = 0;
      try {
        await client.query('BEGIN');
        // Blocks every claim and staging (FOR UPDATE), lets plain reads through.
        await client.query(`LOCK TABLE ${schema.jobs} IN EXCLUSIVE MODE`);
        await control.resumeQueue('claims');
        await waitFor('the node resumed', () => node.checkQueue('claims')?.paused === false);
        const until = Date.now() + 3_000;
        while (Date.now() < until) {
          const [row] = await schema.query<{ ms: number | null }>(
            `SELECT max(extract(epoch FROM now() - query_start) * 1000)::float8 AS ms
           FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
            [appName],
          );
          longestWait = Math.max(longestWait, row.ms ?? 0);
          await sleep(50);
        }
        assert.ok(longestWait > 0, 'the node did wait on the lock');
      } finally {
        await client.query('COMMIT');
        client.release();
        await locker.end();
      }
      assert.ok(longestWait < 1_500, `a statement of the node waited ${Math.round(longestWait)} ms (timeout: 300 ms)`);
      const [done] = await settled([job.id]);
      assert.equal(done.attempt, 1, 'the cancelled claims did not commit');
    });
  });

  /** A node whose claim (the statement matching `pattern`) meets a silent connection: given up, the job runs once. */
  const frozenClaimIsGivenUp = async (name: string, queues: ObanModuleOptions['queues'], pattern: string) => {
    const options = {
      connection: proxy.url(DATABASE_URL),
      queues,
      statementTimeout: 300,
      connectTimeout: 500,
      reconcileInterval: 200,
    };
    await withNode(name, options, async (node) => {
      await waitFor('the queue running', () => node.checkQueue('claims')?.paused === false);
      const trap = proxy.freezeAt(pattern);
      const job = await control.insert(CountWorker, {});
      await trap.cut;
      const [done] = await settled([job.id]);
      assert.equal(done.attempt, 1);
      assert.equal(runs.get(job.id), 1);
    });
  };

  // A claim that waits forever would hang the node's close: each of these fails at its timeout instead.
  it(
    'a claim whose connection goes silent (no reply, no close) is given up and the queue goes on',
    { timeout: 30_000 },
    () => frozenClaimIsGivenUp(`${schema.prefix}_frozen`, { claims: 2 }, claimStatement(schema.prefix)),
  );

  it(
    'so is the claim of a queue with a rate limit (its own statement, on the same bounded connection)',
    { timeout: 30_000 },
    () =>
      frozenClaimIsGivenUp(
        `${schema.prefix}_frozen_limited`,
        { claims: { limit: 2, rateLimit: { allowed: 1_000, period: 1 } } },
        `EXECUTE "xoban_limit_claim_${schema.prefix}"`,
      ),
  );

  it(
    'so is a read of a global limit’s shares (a review’s, or a settle’s under the lock, which the server then frees): the queue goes on, and the node closes',
    { timeout: 30_000 },
    () =>
      frozenClaimIsGivenUp(
        `${schema.prefix}_frozen_share`,
        { claims: { limit: 2, globalLimit: 4 } },
        `oban_read_limit_shares_${schema.prefix}`,
      ),
  );
});
