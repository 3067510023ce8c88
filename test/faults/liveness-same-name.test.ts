import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { livenessWorld, readRuns, startLivenessNode } from '../support/liveness-nodes';
import { waitFor } from '../support/wait';

// Far longer than the test: only the restarted node itself can rescue the job in time.
const NODE_TTL = 60_000;

describe('liveness: a node restarted under the same name after kill -9', () => {
  const { schema, runs, nodes, settings: where } = livenessWorld('liveness_same_name');

  it('rescues the jobs it left executing (within nodeTtl): the one with attempts left completes, the other is discarded', async () => {
    const settings = where({
      oban: {
        node: 'fixed-name',
        queues: { naps: 2 },
        heartbeatInterval: 200,
        leaderTtl: 1_000,
        nodeTtl: NODE_TTL,
      },
    });
    const first = startLivenessNode(settings);
    nodes.push(first);
    await first.ready;
    const [retried, spent] = await schema.query<{ id: string }>(
      `INSERT INTO ${schema.jobs} (worker, queue, args, max_attempts)
       VALUES ('NapWorker', 'naps', '{"firstMs": 600000, "ms": 10}', 3),
              ('NapWorker', 'naps', '{"firstMs": 600000, "ms": 10}', 1)
       RETURNING id`,
    );
    await schema.query(`SELECT pg_notify($1, 'naps')`, [`${schema.prefix}.oban_insert`]);
    await waitFor('both jobs running', () => readRuns(runs.dir).length === 2);
    await first.kill();

    const second = startLivenessNode(settings);
    nodes.push(second);
    await second.ready;
    const job = async (id: string) => (await schema.query(`SELECT * FROM ${schema.jobs} WHERE id = $1`, [id]))[0];
    const done = await waitFor(
      'the job with attempts left completed',
      async () => {
        const row = await job(retried.id);
        return row.state === 'completed' ? row : null;
      },
      { timeout: 20_000, interval: 100 },
    );
    assert.equal(done.attempt, 2, 'the lost attempt counts');
    assert.equal(done.meta.rescued, 1);
    assert.match(done.errors[0].error, /^NodeRestartedError: node fixed-name restarted while running this job/);
    const discarded = await job(spent.id);
    assert.equal(discarded.state, 'discarded', 'no attempt left');
    assert.ok(discarded.discarded_at);
    assert.match(discarded.errors[0].error, /^NodeRestartedError: node fixed-name restarted/);
    const reruns = readRuns(runs.dir).filter((r) => r.pid === second.pid);
    assert.deepEqual(
      reruns.map((r) => [r.job, r.attempt]),
      [[Number(retried.id), 2]],
    );
    await second.stop();
  });
});
