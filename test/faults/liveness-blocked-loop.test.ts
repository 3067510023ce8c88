import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { leadersAt } from '../support/cluster';
import { livenessWorld, overlappingRuns, readRuns, repeatedRuns, startLivenessNode } from '../support/liveness-nodes';
import { waitFor } from '../support/wait';

const NODE_TTL = 1_000;
const SPIN_MS = 2_500;

describe('liveness: a node whose main loop is blocked by synchronous jobs for longer than nodeTtl', () => {
  const { schema, runs, nodes, settings: where } = livenessWorld('liveness_blocked');

  it('stays alive: with another node leading (and running the queue), no job runs twice, all complete', async () => {
    const settings = (spin: boolean, leader: boolean) =>
      where({
        spin,
        oban: { queues: { spins: 3 }, heartbeatInterval: 200, leaderTtl: 600, nodeTtl: NODE_TTL, leader },
      });
    // The leader runs the same queue with jobs that sleep: it would take any job rescued from the other.
    const leader = startLivenessNode(settings(false, true));
    nodes.push(leader);
    await leader.ready;
    await waitFor('the sleeping node leads', () => leadersAt([leader]).length === 1);
    const spinner = startLivenessNode(settings(true, false));
    nodes.push(spinner);
    await spinner.ready;

    // Each node claims 3; the spinner's 3 block its main loop for 3 x 2.5 s in a row.
    await schema.query(
      `INSERT INTO ${schema.jobs} (worker, queue, args, max_attempts)
       SELECT 'SpinWorker', 'spins', '{"ms": ${SPIN_MS}}', 5 FROM generate_series(1, 6)`,
    );
    await schema.query(`SELECT pg_notify($1, 'spins')`, [`${schema.prefix}.oban_insert`]);
    await waitFor('all jobs completed', async () => (await schema.count(`state = 'completed'`)) === 6, {
      timeout: 60_000,
      interval: 100,
    });

    const all = readRuns(runs.dir);
    assert.ok(
      all.filter((r) => r.pid === spinner.pid).length >= 2,
      'the blocked node ran jobs back to back, longer than nodeTtl in all',
    );
    assert.deepEqual(overlappingRuns(all), [], 'no job ran twice at once');
    assert.deepEqual(repeatedRuns(all), [], 'no job ran twice');
    assert.deepEqual(
      await schema.query(`SELECT id, errors FROM ${schema.jobs} WHERE errors <> '{}'`),
      [],
      'no job was rescued',
    );
    assert.ok(spinner.running && leader.running);
    await Promise.all([spinner.stop(), leader.stop()]);
  });
});
