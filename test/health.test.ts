import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { HealthIndicatorResult } from '@nestjs/terminus';
import { Oban, type ObanModuleOptions } from '../lib';
import { ObanHealthIndicator } from '../lib/health';
import { buildClusterStatements } from '../lib/db/cluster-statements';
import { migrate } from '../lib/db/migrate';
import { PgDatabase } from '../lib/db/pg-database';
import { HealthAppModule, NapWorker, PidWorker, healthOptions } from './fixtures/health/health-app.module';
import { terminateListener, withAppName } from './support/backends';
import { DATABASE_URL, TestSchema } from './support/db';
import { TcpProxy } from './support/tcp-proxy';
import { ThrowawayPostgres } from './support/throwaway-postgres';
import { sleep, waitFor } from './support/wait';
import { assertLoadsWithout, assertOptionalEntry } from './support/optional-peer';

interface Node {
  app: INestApplication;
  oban: Oban;
  health: ObanHealthIndicator;
  /** GET a path of the app's HTTP server: status and JSON body. */
  get(path: string): Promise<{ status: number; body: any }>;
}

/** The status of each key of a result, e.g. { oban_database: 'up' }. */
const statuses = (result: HealthIndicatorResult) =>
  Object.fromEntries(Object.entries(result).map(([key, value]) => [key, value.status]));

const TIMINGS = { heartbeatInterval: 200, leaderTtl: 1_000, nodeTtl: 2_000, stageInterval: 100 };
const nodes: INestApplication[] = [];

/** Boots the fixture app (the sample's HealthModule inside) and serves HTTP on a free port. */
async function boot(options: ObanModuleOptions, logger: false | Array<'error' | 'warn'> = ['error']): Promise<Node> {
  healthOptions.current = { migrate: true, processes: 0, ...TIMINGS, ...options };
  const app = await NestFactory.create(HealthAppModule, { logger, abortOnError: false });
  nodes.push(app);
  await app.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  const get = async (p: string) => {
    const response = await fetch(`${base}${p}`, { signal: AbortSignal.timeout(10_000) });
    return { status: response.status, body: await response.json() };
  };
  return { app, oban: app.get(Oban), health: app.get(ObanHealthIndicator), get };
}

async function close(node: Node | undefined): Promise<void> {
  if (!node) return;
  nodes.splice(nodes.indexOf(node.app), 1);
  await node.app.close();
}

after(async () => {
  for (const app of nodes.splice(0).reverse()) await app.close().catch(() => undefined);
});

describe('health: a healthy node with worker processes', () => {
  const schema = new TestSchema('health');
  let node: Node;
  before(async () => {
    node = await boot({
      connection: DATABASE_URL,
      prefix: schema.prefix,
      queues: { mail: 2, cpu: 1 },
      processes: 2,
    });
    await waitFor('the node to lead', () => node.oban.isLeader());
  });
  after(async () => {
    await close(node);
    await schema.drop();
  });

  it('is live and ready, every check up, with what it read', async () => {
    const live = await node.health.isLive();
    assert.deepEqual(statuses(live), { oban_heartbeat: 'up' });
    assert.ok(live.oban_heartbeat.heartbeatAgeMs <= TIMINGS.nodeTtl, JSON.stringify(live));
    assert.equal(live.oban_heartbeat.maxAgeMs, TIMINGS.nodeTtl);

    const ready = await node.health.isReady({ backlog: { mail: 60_000 } });
    assert.deepEqual(statuses(ready), {
      oban_node: 'up',
      oban_database: 'up',
      oban_notifier: 'up',
      oban_pool: 'up',
      oban_leader: 'up',
      oban_backlog: 'up',
    });
    assert.deepEqual(ready.oban_node.queues.sort(), ['cpu', 'mail']);
    assert.equal(ready.oban_database.database, 'postgres');
    assert.equal(ready.oban_pool.processes, 2);
    assert.equal(ready.oban_pool.ready, 2);
    assert.equal(ready.oban_leader.thisNode, true);
    assert.deepEqual(ready.oban_backlog.queues, { mail: { ageMs: 0, maxAgeMs: 60_000 } });
    // The worker processes run jobs (they booted the app's module tree, health module included).
    const job = await node.oban.insert(PidWorker, {});
    const done = await waitFor('the cpu job', async () => (await node.oban.getJob(job.id))?.result as any);
    assert.ok(ready.oban_pool.pids.includes(done.pid), `${done.pid} in ${ready.oban_pool.pids}`);
  });

  it("answers the sample's /health/live, /health/ready and /health with 200", async () => {
    const live = await node.get('/health/live');
    assert.equal(live.status, 200, JSON.stringify(live.body));
    assert.equal(live.body.status, 'ok');
    assert.deepEqual(Object.keys(live.body.info), ['oban_heartbeat']);
    const ready = await node.get('/health/ready');
    assert.equal(ready.status, 200, JSON.stringify(ready.body));
    assert.deepEqual(Object.keys(ready.body.info).sort(), [
      'oban_backlog',
      'oban_database',
      'oban_leader',
      'oban_node',
      'oban_notifier',
      'oban_pool',
    ]);
    const both = await node.get('/health');
    assert.equal(both.status, 200);
    assert.equal(Object.keys(both.body.details).length, 7);
  });

  it('a killed worker process is reported until its replacement is up', async () => {
    const [victim] = (await node.oban.checkProcesses()).map((p) => p.pid!);
    process.kill(victim, 'SIGKILL');
    const down = await waitFor(
      'the pool check to go down',
      async () => {
        const result = await node.health.checkProcesses('pool');
        return result.pool.status === 'down' ? result.pool : null;
      },
      { interval: 5 },
    );
    assert.match(down.message, /of 2 worker process\(es\) not up/);
    assert.ok(!down.pids.includes(victim));
    const up = await waitFor(
      'the replacement',
      async () => {
        const result = await node.health.checkProcesses('pool');
        return result.pool.status === 'up' ? result.pool : null;
      },
      { timeout: 60_000 },
    );
    assert.equal(up.pids.length, 2);
    assert.ok(!up.pids.includes(victim));
    assert.equal((await node.get('/health/ready')).status, 200);
  });

  it("a queue's backlog older than its threshold is down, naming the queue and the age", async () => {
    const key = 'backlog';
    // Nobody runs queue 'report': its jobs wait. The oldest due one counts, whatever its priority.
    const [older, newer] = await node.oban.insertAll([
      { worker: NapWorker, args: { ms: 1 }, queue: 'report', priority: 5 },
      { worker: NapWorker, args: { ms: 1 }, queue: 'report', priority: 0 },
    ]);
    await node.oban.insert(NapWorker, { ms: 1 }, { queue: 'report', scheduleIn: 3600 }); // not due: no backlog
    await schema.query(`UPDATE ${schema.jobs} SET scheduled_at = now() - interval '300 seconds' WHERE id = $1`, [
      older.id,
    ]);
    await schema.query(`UPDATE ${schema.jobs} SET scheduled_at = now() - interval '10 seconds' WHERE id = $1`, [
      newer.id,
    ]);

    const late = await node.health.checkBacklog(key, { report: 60_000, mail: 60_000 });
    assert.equal(late.backlog.status, 'down');
    assert.match(late.backlog.message, /^queue 'report': oldest due job waiting (\d+) ms \(more than 60000 ms\)$/);
    const age = late.backlog.queues.report.ageMs;
    assert.ok(age >= 300_000 && age < 310_000, `age ${age}`);
    assert.deepEqual(late.backlog.queues.mail, { ageMs: 0, maxAgeMs: 60_000 });

    const ready = await node.get('/health/ready'); // its thresholds (mail) are met
    assert.equal(ready.status, 200);
    const strict = await node.health.isReady({ backlog: { report: 60_000 } });
    assert.equal(strict.oban_backlog.status, 'down');
    assert.equal(strict.oban_database.status, 'up');

    const lenient = await node.health.checkBacklog(key, { report: 600_000 });
    assert.equal(lenient.backlog.status, 'up');
    await schema.query(`DELETE FROM ${schema.jobs} WHERE queue = 'report'`);
    assert.deepEqual((await node.health.checkBacklog(key, { report: 1 })).backlog.queues, {
      report: { ageMs: 0, maxAgeMs: 1 },
    });
  });

  it('reads a backlog with index probes, not a scan of the queue', async () => {
    await schema.query(
      `INSERT INTO ${schema.jobs} (state, queue, worker, args, priority, scheduled_at)
       SELECT 'available', 'bulk', 'NapWorker', '{"ms":1}', i % 10, now() - i * interval '1 second'
       FROM generate_series(1, 20000) AS i`,
    );
    try {
      await schema.query(`ANALYZE ${schema.jobs}`);
      const { text } = buildClusterStatements(schema.prefix).backlogAges;
      const plan = (await schema.query(`EXPLAIN ${text}`, [['bulk']])).map((r) => r['QUERY PLAN']).join('\n');
      assert.match(plan, /Index (Only )?Scan using oban_jobs_available_index/, plan);
      assert.doesNotMatch(plan, /Seq Scan on oban_jobs/, plan);
      const ages = await node.health.checkBacklog('b', { bulk: 1 });
      assert.ok(Math.abs(ages.b.queues.bulk.ageMs - 20_000_000) < 60_000, JSON.stringify(ages));
    } finally {
      await schema.query(`DELETE FROM ${schema.jobs} WHERE queue = 'bulk'`);
    }
  });

  it('refuses bad thresholds and timeouts as a programming error', async () => {
    await assert.rejects(node.health.checkBacklog('b', { mail: -1 }), /backlog\.mail must be a positive number/);
    await assert.rejects(node.health.isReady({ timeout: 0 }), /timeout must be a positive number/);
    await assert.rejects(node.health.isLive({ maxHeartbeatAge: Number.NaN }), /maxHeartbeatAge must be a positive/);
  });

  it('while shutting down: not ready, still live (its heartbeat keeps its running jobs its own)', async () => {
    // A queue only this node runs, so the job is its own (the suite's first node runs 'mail' too).
    const other = await boot({ connection: DATABASE_URL, prefix: schema.prefix, queues: { naps: 1 }, leader: false });
    // Long enough that shutdown is still waiting for it when the checks below run, even on a busy machine.
    const job = await other.oban.insert(NapWorker, { ms: 5_000 }, { queue: 'naps' });
    await waitFor('the job to run', async () => (await other.oban.getJob(job.id))?.state === 'executing');
    assert.equal((await other.health.checkRunning('n')).n.status, 'up');
    const closing = close(other);
    try {
      const running = await waitFor('the node to stop running', async () => {
        const r = await other.health.checkRunning('n');
        return r.n.status === 'down' ? r.n : null;
      });
      assert.match(running.message, /is not running \(starting or stopping\)/);
      assert.equal((await other.health.isLive()).oban_heartbeat.status, 'up');
      assert.equal((await other.oban.getJob(job.id))?.state, 'executing');
    } finally {
      await closing;
    }
  });
});

describe('health: no leader', () => {
  const schema = new TestSchema('health_noleader');
  let node: Node;
  before(async () => {
    node = await boot(
      { connection: DATABASE_URL, prefix: schema.prefix, queues: { mail: 1 }, leader: false },
      false, // Terminus logs each failed check
    );
  });
  after(async () => {
    await close(node);
    await schema.drop();
  });

  it('readiness is down naming the missing leader; the rest is up; leader: false leaves it out', async () => {
    await sleep(3 * TIMINGS.heartbeatInterval); // bids would have happened by now
    const ready = await node.health.isReady();
    assert.deepEqual(statuses(ready), {
      oban_node: 'up',
      oban_database: 'up',
      oban_notifier: 'up',
      oban_pool: 'up',
      oban_leader: 'down',
    });
    assert.match(ready.oban_leader.message, /no node holds the leader lease/);
    assert.equal(ready.oban_pool.processes, 0); // no cpu worker runs here: nothing to be down
    const http = await node.get('/health/ready');
    assert.equal(http.status, 503);
    assert.deepEqual(Object.keys(http.body.error), ['oban_leader']);
    assert.equal((await node.get('/health/live')).status, 200);
    assert.deepEqual(Object.keys(await node.health.isReady({ leader: false })).includes('oban_leader'), false);
  });

  it('reports the leader once one node may lead, on every node', async () => {
    const leader = await boot({ connection: DATABASE_URL, prefix: schema.prefix, queues: {} });
    try {
      const seen = await waitFor('a leader', async () => {
        const r = await node.health.checkLeader('l');
        return r.l.status === 'up' ? r.l : null;
      });
      assert.equal(seen.thisNode, false);
      const own = await leader.health.checkLeader('l');
      assert.deepEqual(own.l, { status: 'up', leader: seen.leader, thisNode: true });
      assert.equal((await node.get('/health/ready')).status, 200);
    } finally {
      await close(leader);
    }
  });
});

describe('health: the notifier', () => {
  const schema = new TestSchema('health_listen');
  const proxy = TcpProxy.forUrl(DATABASE_URL);
  let node: Node;
  before(async () => {
    await schema.migrate();
    await proxy.start();
    node = await boot(
      {
        connection: withAppName(proxy.url(DATABASE_URL), `${schema.prefix}_node`),
        prefix: schema.prefix,
        queues: { mail: 1 },
        migrate: false,
      },
      false,
    );
  });
  after(async () => {
    await proxy.stop(); // first: a frozen link would keep the node's pool from closing
    await close(node);
    await schema.drop();
  });

  it('a lost LISTEN connection is down until it reconnects; liveness stays up', async () => {
    assert.equal((await node.health.checkNotifier('n')).n.status, 'up');
    proxy.refuseNew(true); // its reconnects fail until let through
    try {
      await terminateListener(schema, `${schema.prefix}_node`);
      const down = await waitFor('the notifier check to go down', async () => {
        const r = await node.health.checkNotifier('n');
        return r.n.status === 'down' ? r.n : null;
      });
      assert.match(down.message, /the LISTEN connection is down/);
      await sleep(500); // several failed reconnects later, still down
      const ready = await node.get('/health/ready');
      assert.equal(ready.status, 503);
      assert.equal(ready.body.error.oban_notifier.listening, false);
      assert.equal((await node.health.isLive()).oban_heartbeat.status, 'up');
    } finally {
      proxy.refuseNew(false);
    }
    await waitFor('the notifier to reconnect', async () => (await node.health.checkNotifier('n')).n.status === 'up', {
      timeout: 15_000,
    });
  });

  it('a database that stops answering is down within the timeout: the endpoint never hangs', async () => {
    const { sent } = proxy.freezeAt('SELECT 1 AS ping'); // the link carrying the ping goes silent, open
    const started = performance.now();
    const result = await node.health.checkDatabase('db', 500);
    const took = performance.now() - started;
    await sent;
    assert.equal(result.db.status, 'down');
    assert.equal(result.db.message, 'SELECT 1 on the database failed: no answer within 500 ms');
    assert.ok(took >= 490 && took < 1_500, `took ${took} ms`);
    const again = await node.health.checkDatabase('db', 500); // another connection of the pool answers
    assert.equal(again.db.status, 'up');
  });
});

describe('health: the database goes away', () => {
  let server: ThrowawayPostgres;
  let node: Node;
  before(async () => {
    server = await ThrowawayPostgres.create();
    const db = PgDatabase.fromUrl(server.url, 1);
    await migrate(db, 'health').finally(() => db.close());
    node = await boot({ connection: server.url, prefix: 'health', queues: { mail: 1 }, migrate: false }, false);
  });
  after(async () => {
    await close(node);
    await server?.destroy();
  });

  it('readiness goes down naming the database, liveness after nodeTtl; both recover', async () => {
    await waitFor('the node to lead', () => node.oban.isLeader());
    assert.equal((await node.get('/health/ready')).status, 200);
    await server.stop('fast');

    const started = performance.now();
    const ready = await node.health.isReady({ timeout: 1_000 });
    assert.ok(performance.now() - started < 2_000);
    assert.equal(ready.oban_database.status, 'down');
    assert.match(ready.oban_database.message, /^SELECT 1 on the database failed: /);
    assert.equal(ready.oban_leader.status, 'down');
    const http = await node.get('/health/ready');
    assert.equal(http.status, 503);
    assert.equal(http.body.error.oban_database.status, 'down');

    const stale = await waitFor(
      'the heartbeat to go stale',
      async () => {
        const live = await node.health.isLive();
        return live.oban_heartbeat.status === 'down' ? live.oban_heartbeat : null;
      },
      { timeout: TIMINGS.nodeTtl + 3_000, interval: 100 },
    );
    assert.match(stale.message, /last heartbeat \d+ ms ago \(more than 2000 ms\)/);
    assert.ok(stale.heartbeatAgeMs > TIMINGS.nodeTtl);
    assert.equal((await node.get('/health/live')).status, 503);

    await server.start();
    await waitFor('liveness again', async () => (await node.get('/health/live')).status === 200, { timeout: 20_000 });
    await waitFor('readiness again', async () => (await node.get('/health/ready')).status === 200, {
      timeout: 20_000,
      interval: 200,
    });
  });
});

describe('health: testing modes', () => {
  const schema = new TestSchema('health_testing');
  after(() => schema.drop());

  it("testing: 'manual' pings the database for real; the node's checks are up, noting the mode", async () => {
    const node = await boot({
      connection: DATABASE_URL,
      prefix: schema.prefix,
      queues: { mail: 1 },
      testing: 'manual',
    });
    try {
      const ready = await node.health.isReady();
      assert.deepEqual(new Set(Object.values(statuses(ready))), new Set(['up']));
      assert.equal(typeof ready.oban_database.responseTimeMs, 'number');
      assert.equal(ready.oban_notifier.testing, 'manual');
      assert.equal((await node.get('/health')).status, 200);
    } finally {
      await close(node);
    }
  });
});

describe('health: the package entry', () => {
  it('is nest-oban/health, an optional peer; the main entry loads without @nestjs/terminus', () => {
    assertOptionalEntry('./health', '@nestjs/terminus');
    assertLoadsWithout('@nestjs/terminus', './lib/health');
  });
});
