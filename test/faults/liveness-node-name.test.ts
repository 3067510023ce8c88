import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { INestApplicationContext } from '@nestjs/common';
import { Client, Pool } from 'pg';
import { buildClusterStatements } from '../../lib/db/cluster-statements';
import { createApp } from '../support/app';
import { leadersAt } from '../support/cluster';
import { DATABASE_URL, TestSchema } from '../support/db';
import { livenessWorld, readRuns, startLivenessNode } from '../support/liveness-nodes';
import { sleep, waitFor } from '../support/wait';

describe('liveness: a node name is one live process', () => {
  const { schema, runs, nodes, settings: where } = livenessWorld('liveness_node_name');

  it('a second process started under a live node name fails boot naming it; the first keeps its lease and works on', async () => {
    const settings = where({
      oban: { node: 'taken-name', queues: { naps: 2 }, heartbeatInterval: 200, leaderTtl: 1_000, nodeTtl: 2_000 },
    });
    const first = startLivenessNode(settings);
    nodes.push(first);
    await first.ready;
    await waitFor('the first leads', () => leadersAt([first]).length === 1);
    const tenure = first.tenures[0];
    const lease = async () =>
      (
        await schema.query(
          `SELECT node, elected_at FROM "${schema.prefix}".oban_peers WHERE name = 'oban' AND expires_at > now()`,
        )
      )[0];
    const leaseBefore = await lease();

    const second = startLivenessNode(settings);
    nodes.push(second);
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      second.ready.then(
        () => 'booted',
        () => second.exited.then((code) => `exited ${code}`),
      ),
      new Promise((resolve) => (timer = setTimeout(() => resolve('still booting after 30 s'), 30_000))),
    ]);
    clearTimeout(timer);
    assert.equal(outcome, 'exited 1', 'the second process refused to boot');
    assert.match(second.stderr, /ObanConfigError/);
    assert.match(second.stderr, /node 'taken-name' is already running in another live process/);
    assert.match(second.stderr, /give each process its own `node`/);

    // The first one's tenure went on without a break, and it still runs jobs.
    await sleep(1_500);
    assert.equal(first.tenures.length, 1, 'one unbroken tenure');
    assert.ok(first.tenures[0] === tenure && tenure.until > Date.now(), 'still leading');
    assert.deepEqual(await lease(), leaseBefore, 'the same lease: never given up nor taken anew');
    assert.equal(leaseBefore.node, 'taken-name');
    const [job] = await schema.query<{ id: string }>(
      `INSERT INTO ${schema.jobs} (worker, queue, args) VALUES ('NapWorker', 'naps', '{"ms": 10}') RETURNING id`,
    );
    await schema.query(`SELECT pg_notify($1, 'naps')`, [`${schema.prefix}.oban_insert`]);
    await waitFor(
      'the job completed',
      async () => (await schema.count(`id = $1 AND state = 'completed'`, [job.id])) === 1,
    );
    assert.deepEqual(
      readRuns(runs.dir).map((r) => r.pid),
      [first.pid],
      'ran on the first process',
    );
    assert.ok(first.running);
    await first.stop();
  });
});

describe('liveness: node names held in this process', () => {
  const schema = new TestSchema('liveness_name_inproc');
  const apps: INestApplicationContext[] = [];
  const pools: Pool[] = [];
  after(async () => {
    for (const app of apps) await app.close();
    for (const pool of pools) await pool.end();
    await schema.drop();
  });
  const options = (node: string, connection: string | Pool = DATABASE_URL) => ({
    connection,
    prefix: schema.prefix,
    migrate: true,
    node,
    queues: {},
    heartbeatInterval: 100,
    leaderTtl: 400,
    nodeTtl: 1_000,
  });
  const live = async (node: string) =>
    (await schema.query(`SELECT 1 FROM "${schema.prefix}".oban_nodes WHERE node = $1 AND expires_at > now()`, [node]))
      .length === 1;

  it('a heartbeat that cannot go to a thread (a password function) keeps its own connection and still holds the name', async () => {
    const application = `liveness-fallback-${process.pid}`;
    const pool = new Pool({ connectionString: DATABASE_URL, application_name: application, password: async () => '' });
    pools.push(pool);
    apps.push(await createApp({ oban: options('fallback-node', pool), logger: [] }));
    assert.ok(await live('fallback-node'));
    const holders = await schema.query(
      `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE l.locktype = 'advisory' AND a.application_name LIKE $1`,
      [`${application}%`],
    );
    assert.deepEqual(
      holders.map((h) => h.application_name),
      [application],
      'the name is held by a connection of its own from the pool settings, not by a thread',
    );
    await assert.rejects(
      createApp({ oban: options('fallback-node'), logger: [] }),
      (error: Error) =>
        error.name === 'ObanConfigError' && /node 'fallback-node' is already running/.test(error.message),
    );
    assert.ok(await live('fallback-node'), 'the first keeps beating');
  });

  it('a name held by a session whose node no longer beats (a crashed host) is taken after a nodeTtl', async () => {
    const stale = new Client({ connectionString: DATABASE_URL });
    await stale.connect();
    try {
      const { takeNodeName } = buildClusterStatements(schema.prefix);
      assert.equal((await stale.query(takeNodeName.text, ['stale-name'])).rows[0].taken, true);
      const startedAt = Date.now();
      apps.push(await createApp({ oban: options('stale-name'), logger: [] }));
      assert.ok(Date.now() - startedAt >= 1_000, 'waited a nodeTtl for the holder to beat');
      assert.ok(await live('stale-name'));
    } finally {
      await stale.end();
    }
  });
});
