import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { INestApplicationContext } from '@nestjs/common';
import { Oban } from '../lib';
import { type TestNode, killAll, startNode } from './support/cluster';
import { createApp } from './support/app';
import { DATABASE_URL, TestSchema } from './support/db';
import { sleep, waitFor } from './support/wait';

describe('cancelling a running job from another node', () => {
  const schema = new TestSchema('cluster_cancel');
  const nodes: TestNode[] = [];
  let app: INestApplicationContext;
  before(async () => {
    await schema.query(`CREATE SCHEMA IF NOT EXISTS "${schema.prefix}"`);
    await schema.query(`CREATE TABLE "${schema.prefix}".aborts (job_id bigint, node text, reason text)`);
  });
  after(async () => {
    await app?.close();
    await killAll(nodes);
    await schema.drop();
  });

  it('fires the AbortSignal in the process running it; the job ends cancelled', async () => {
    const runner = startNode({
      prefix: schema.prefix,
      databaseUrl: DATABASE_URL,
      oban: { queues: { slow: 1 }, heartbeatInterval: 200, leaderTtl: 1_000, nodeTtl: 2_000 },
    });
    nodes.push(runner);
    await runner.ready;
    // This process is an insert-only node with no workers: it knows 'slow' from the runner's heartbeat.
    app = await createApp({
      oban: {
        connection: DATABASE_URL,
        prefix: schema.prefix,
        queues: {},
        heartbeatInterval: 200,
        leaderTtl: 1_000,
        nodeTtl: 2_000,
      },
    });
    const oban = app.get(Oban);
    const job = await oban.insert('SlowWorker', { ms: 60_000 }, { queue: 'slow' });
    const aborts = () =>
      schema.query<{ node: string; reason: string }>(
        `SELECT node, reason FROM "${schema.prefix}".aborts WHERE job_id = $1`,
        [job.id],
      );
    await waitFor('the job running in the other process', async () => (await aborts()).length > 0);

    const cancelled = await oban.cancelJob(job.id);
    assert.equal(cancelled?.state, 'cancelled');
    const events = await waitFor('the abort in the runner', async () => {
      const rows = await aborts();
      return rows.length === 2 ? rows : null;
    });
    assert.deepEqual(
      events.map((e) => [e.node, e.reason]),
      [
        [runner.node, 'started'],
        [runner.node, 'JobCancelledError'],
      ],
    );
    await sleep(300);
    const final = await oban.getJob(job.id);
    assert.equal(final?.state, 'cancelled', 'stays cancelled');
    assert.ok(final?.cancelledAt);
    await runner.stop();
  });
});
