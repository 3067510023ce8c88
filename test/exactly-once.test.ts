import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import * as path from 'node:path';
import { Oban, Worker } from '../lib';
import { createApp } from './support/app';
import { DATABASE_URL, TestSchema } from './support/db';
import { waitFor } from './support/wait';

/** The inserting side only needs the worker's name and queue. */
@Worker({ name: 'RecordWorker', queue: 'drain', maxAttempts: 1 })
class RecordWorkerRef {
  perform() {}
}

describe('several nodes on one database', () => {
  const schema = new TestSchema('once');
  after(() => schema.drop());

  it('two node processes drain 10,000 jobs: each runs exactly once, none is left behind', async () => {
    const inserter = await createApp({
      oban: { connection: DATABASE_URL, prefix: schema.prefix, migrate: true, queues: {} },
      providers: [],
    });
    await schema.query(`CREATE TABLE "${schema.prefix}".side_effects (job_id bigint PRIMARY KEY, node text NOT NULL)`);
    const nodes = [0, 1].map(() => {
      const child = fork(path.join(__dirname, 'fixtures/drain-node.ts'), [schema.prefix, '20'], {
        execArgv: process.execArgv,
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      const ready = new Promise((resolve) => child.on('message', (m: any) => m?.event === 'ready' && resolve(true)));
      const exited = new Promise((resolve) => child.on('exit', resolve));
      return { child, ready, exited };
    });
    try {
      await Promise.all(nodes.map((n) => n.ready));
      const jobs = await inserter
        .get(Oban)
        .insertAll(Array.from({ length: 10_000 }, (_, i) => ({ worker: RecordWorkerRef, args: { i } })));
      assert.equal(jobs.length, 10_000);
      await waitFor(
        'all jobs to finish',
        async () => (await schema.count(`state IN ('completed', 'discarded')`)) === 10_000,
        {
          timeout: 120_000,
          interval: 250,
        },
      );
    } finally {
      for (const n of nodes) n.child.connected && n.child.send('stop');
      await Promise.all(nodes.map((n) => n.exited));
      await inserter.close();
    }
    assert.equal(await schema.count(`state = 'completed'`), 10_000, 'every job completed');
    assert.equal(await schema.count(`cardinality(errors) > 0`), 0, 'no job hit a duplicate side effect');
    const [effects] = await schema.query(
      `SELECT count(*)::int AS n, count(DISTINCT node)::int AS nodes FROM "${schema.prefix}".side_effects`,
    );
    assert.equal(effects.n, 10_000, 'one side effect per job');
    assert.equal(effects.nodes, 2, 'both nodes took part');
    // Claiming ahead must not let one node hoard the queue: each does a fair part of the work.
    const shares = await schema.query<{ node: string; n: number }>(
      `SELECT node, count(*)::int AS n FROM "${schema.prefix}".side_effects GROUP BY node ORDER BY node`,
    );
    for (const { node, n } of shares) assert.ok(n >= 2_000, `node ${node} ran ${n} of 10,000 jobs (at least 2,000)`);
    const [mismatch] = await schema.query(
      `SELECT count(*)::int AS n FROM ${schema.jobs} j JOIN "${schema.prefix}".side_effects s ON s.job_id = j.id
       WHERE j.attempted_by[1] <> s.node`,
    );
    assert.equal(mismatch.n, 0, 'each job ran on the node that claimed it');
  });
});
