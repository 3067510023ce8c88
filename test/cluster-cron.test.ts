import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Global, type INestApplicationContext, Module } from '@nestjs/common';
import { Oban, Worker } from '../lib';
import { PgDatabase } from '../lib/db/pg-database';
import { buildClusterStatements } from '../lib/db/cluster-statements';
import { ClusterStore } from '../lib/store/cluster-store';
import { parseCron } from '../lib/util/cron-expression';
import { OBAN_CLOCK, type Clock } from '../lib/util/clock';
import { createApp } from './support/app';
import { DATABASE_URL, TestSchema } from './support/db';
import { sleep, waitFor } from './support/wait';

@Worker({ queue: 'reports' })
class ReportWorker {
  perform() {
    return null;
  }
}

class NotAWorker {
  perform() {}
}

@Module({ providers: [ReportWorker] })
class ReportsModule {}

const iso = (ms: number) => new Date(ms).toISOString();

describe('cron expressions', () => {
  it('reads 5-field expressions and nicknames, in a timezone', () => {
    const from = Date.parse('2024-03-09T23:58:00Z');
    const every5 = parseCron('*/5 * * * *', 'Etc/UTC', 'test');
    assert.deepEqual(every5.slotsBetween(from, from + 12 * 60_000).map(iso), [
      '2024-03-10T00:00:00.000Z',
      '2024-03-10T00:05:00.000Z',
      '2024-03-10T00:10:00.000Z',
    ]);
    assert.equal(iso(parseCron('@hourly', 'Etc/UTC', 'test').next(from)!), '2024-03-10T00:00:00.000Z');
    // New York switches to summer time on 2024-03-10: midnight is 05:00Z, then 04:00Z.
    const daily = parseCron('@daily', 'America/New_York', 'test');
    assert.deepEqual(daily.slotsBetween(from, from + 2 * 86_400_000).map(iso), [
      '2024-03-10T05:00:00.000Z',
      '2024-03-11T04:00:00.000Z',
    ]);
    assert.equal(iso(parseCron('0 9 * * 1-5', 'Europe/Paris', 'test').next(from)!), '2024-03-11T08:00:00.000Z');
    for (const nickname of ['@yearly', '@annually', '@monthly', '@weekly', '@midnight']) {
      assert.ok(parseCron(nickname, 'Etc/UTC', 'test').next(from));
    }
  });

  it('fails boot naming a bad expression, timezone or worker', async () => {
    const boot = (crontab: any, extra = {}) =>
      createApp({ oban: { connection: DATABASE_URL, prefix: 'unused_schema', crontab, ...extra } });
    await assert.rejects(
      boot([{ cron: '61 * * * *', worker: ReportWorker }]),
      /crontab\[0\]: invalid cron expression '61 \* \* \* \*'/,
    );
    await assert.rejects(
      boot([{ cron: '@fortnightly', worker: ReportWorker }]),
      /invalid cron expression '@fortnightly'/,
    );
    await assert.rejects(
      boot([{ cron: '0 * * * * *', worker: ReportWorker }]),
      /invalid cron expression '0 \* \* \* \* \*'/,
    );
    await assert.rejects(boot([{ cron: '0 0 31 2 *', worker: ReportWorker }]), /'0 0 31 2 \*' never matches/);
    await assert.rejects(
      boot([{ cron: '@daily', worker: ReportWorker, timezone: 'Mars/Olympus' }]),
      /crontab\[0\]\.timezone: unknown timezone 'Mars\/Olympus'/,
    );
    await assert.rejects(boot([], { timezone: 'Nowhere' }), /timezone: unknown timezone 'Nowhere'/);
    await assert.rejects(
      boot([{ cron: '@daily', worker: NotAWorker }]),
      /crontab\[0\] \('@daily'\): .*NotAWorker is not a worker/,
    );
  });
});

describe('cron across nodes', () => {
  const schema = new TestSchema('cluster_cron');
  const apps: INestApplicationContext[] = [];
  before(() => schema.migrate());
  after(async () => {
    for (const app of apps) await app.close().catch(() => undefined);
    await schema.drop();
  });

  const cronJobs = async (name: string) =>
    (
      await schema.query<{ slot: string; n: number }>(
        `SELECT meta->>'cron_slot' AS slot, count(*)::int AS n FROM ${schema.jobs}
         WHERE meta->>'cron' = $1 GROUP BY 1 ORDER BY 1`,
        [name],
      )
    ).map((r) => ({ at: Date.parse(r.slot), n: r.n }));

  it('fails boot on a worker name nobody here declares and no queue', async () => {
    await assert.rejects(
      createApp({
        oban: { connection: DATABASE_URL, prefix: schema.prefix, crontab: [{ cron: '@hourly', worker: 'Ghost' }] },
      }),
      /crontab\[0\] \('@hourly'\): unknown worker 'Ghost'/,
    );
  });

  it('inserts each slot once with 3 nodes, across a leader change', async () => {
    // One fast clock for all three nodes: a cron minute every 400 ms.
    const start = Date.now();
    const clock: Clock = { now: () => start + (Date.now() - start) * 150, rate: 150 };
    @Global()
    @Module({ providers: [{ provide: OBAN_CLOCK, useValue: clock }], exports: [OBAN_CLOCK] })
    class ClockModule {}
    const boot = () =>
      createApp({
        oban: {
          connection: DATABASE_URL,
          prefix: schema.prefix,
          queues: {},
          heartbeatInterval: 100,
          leaderTtl: 400,
          nodeTtl: 1_000,
          crontab: [
            { cron: '* * * * *', worker: ReportWorker, name: 'minutely', args: { kind: 'minute' } },
            { cron: '*/2 * * * *', worker: 'ReportWorker', opts: { priority: 3, tags: ['cron'] } },
          ],
        },
        imports: [ClockModule, ReportsModule],
      });
    for (let i = 0; i < 3; i++) apps.push(await boot());
    const leaderApp = await waitFor('a leader', () => apps.find((a) => a.get(Oban).isLeader()));
    await waitFor('a few slots', async () => (await cronJobs('minutely')).length >= 5);
    await leaderApp.close();
    apps.splice(apps.indexOf(leaderApp), 1);
    const firstCount = (await cronJobs('minutely')).length;
    await waitFor('a new leader', () => apps.find((a) => a.get(Oban).isLeader()));
    await waitFor('more slots', async () => (await cronJobs('minutely')).length >= firstCount + 5);
    for (const app of apps.splice(0)) await app.close();

    const minutely = await cronJobs('minutely');
    assert.ok(
      minutely.every((s) => s.n === 1),
      `each slot once: ${JSON.stringify(minutely)}`,
    );
    for (let i = 1; i < minutely.length; i++)
      assert.equal(minutely[i].at - minutely[i - 1].at, 60_000, 'no slot missed');
    const everyOther = await cronJobs('ReportWorker */2 * * * *');
    assert.ok(everyOther.length >= 3 && everyOther.every((s) => s.n === 1 && new Date(s.at).getUTCMinutes() % 2 === 0));
    const [job] = await schema.query(`SELECT * FROM ${schema.jobs} WHERE meta->>'cron' = 'minutely' LIMIT 1`);
    assert.deepEqual([job.worker, job.queue, job.args], ['ReportWorker', 'reports', { kind: 'minute' }]);
    const [other] = await schema.query(`SELECT * FROM ${schema.jobs} WHERE meta->>'cron' <> 'minutely' LIMIT 1`);
    assert.deepEqual([other.priority, other.tags], [3, ['cron']]);
  });

  it('the database lets one leader insert a slot, once', async () => {
    const cluster = new ClusterStore(PgDatabase.fromUrl(DATABASE_URL, 6), buildClusterStatements(schema.prefix));
    const p = `"${schema.prefix}"`;
    await schema.query(`DELETE FROM ${p}.oban_peers`);
    await schema.query(`INSERT INTO ${p}.oban_peers (node, expires_at) VALUES ('boss', now() + interval '1 minute')`);
    await cluster.registerCrons(['guarded'], new Date('2024-01-01T00:00:00Z'));
    const row = {
      queue: 'reports',
      worker: 'ReportWorker',
      args: {},
      meta: {},
      tags: [],
      max_attempts: 1,
      priority: 0,
    };
    const slot = new Date('2024-01-01T00:05:00Z');
    assert.equal(await cluster.insertCronJob('guarded', slot, 'not-the-leader', row), null);
    const ids = await Promise.all(Array.from({ length: 6 }, () => cluster.insertCronJob('guarded', slot, 'boss', row)));
    assert.equal(ids.filter((id) => id !== null).length, 1, 'one of six concurrent inserts of a slot wins');
    assert.equal(
      await cluster.insertCronJob('guarded', new Date('2024-01-01T00:04:00Z'), 'boss', row),
      null,
      'never backwards',
    );
    await cluster.db.close();
    await sleep(0);
  });
});
