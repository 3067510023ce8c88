import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { INestApplicationContext } from '@nestjs/common';
import { Oban, type Job } from '../lib';
import { type TestNode, killAll, startNode } from './support/cluster';
import { createApp } from './support/app';
import { DATABASE_URL, TestSchema } from './support/db';
import { waitFor } from './support/wait';

/**
 * Workflows across node processes (test/fixtures/cluster/node.ts): RecordWorker
 * returns the node that ran it, CpuRecordWorker (`cpu: true`) the pid of the
 * worker process. Steps go to queues that only one node runs.
 */
describe('workflows across node processes', () => {
  const schema = new TestSchema('workflow_nodes');
  const nodes: TestNode[] = [];
  let app: INestApplicationContext;
  let oban: Oban;
  const liveness = { heartbeatInterval: 200, leaderTtl: 1_000, nodeTtl: 2_000 };
  const node = (queues: Record<string, number>, cpu = false) => {
    const started = startNode({
      prefix: schema.prefix,
      databaseUrl: DATABASE_URL,
      cpu,
      oban: { queues, processes: cpu ? 1 : 0, ...liveness },
    });
    nodes.push(started);
    return started;
  };
  before(async () => {
    await schema.query(`CREATE SCHEMA IF NOT EXISTS "${schema.prefix}"`);
    await schema.query(`CREATE TABLE "${schema.prefix}".runs (
      id bigserial PRIMARY KEY, job_id bigint NOT NULL, attempt int NOT NULL, node text NOT NULL,
      started_ms bigint NOT NULL, ended_ms bigint, pid int)`);
    // This process only inserts and reads.
    app = await createApp({ oban: { connection: DATABASE_URL, prefix: schema.prefix, migrate: true, queues: {} } });
    oban = app.get(Oban);
  });
  after(async () => {
    await killAll(nodes);
    await app?.close();
    await schema.drop();
  });
  const completed = (job: Job, timeout = 30_000) =>
    waitFor(
      `job ${job.id} completed`,
      async () => {
        const j = await oban.getJob(job.id);
        return j?.state === 'completed' && j;
      },
      { timeout, interval: 50 },
    );

  it('a step completing on one node releases its dependent on the other, through a cpu: true step', async () => {
    const a = node({ qa: 2 });
    const b = node({ qb: 2, cpu: 2 }, true);
    await Promise.all([a.ready, b.ready]);
    const wf = await oban
      .workflow()
      .add('fetch', 'RecordWorker', { ms: 50 }, { queue: 'qa' })
      .add('resize', 'RecordWorker', { ms: 20 }, { queue: 'qb', deps: ['fetch'] })
      .add('crunch', 'CpuRecordWorker', { firstMs: 20 }, { queue: 'cpu', deps: ['resize'] })
      .add('notify', 'RecordWorker', { ms: 0 }, { queue: 'qa', deps: ['crunch', 'fetch'] })
      .insert();
    const notify = await completed(wf.jobs.notify);
    const fetch = (await oban.getJob(wf.jobs.fetch.id))!;
    const resize = (await oban.getJob(wf.jobs.resize.id))!;
    const crunch = (await oban.getJob(wf.jobs.crunch.id))!;
    assert.equal(fetch.attemptedBy[0], a.node);
    assert.equal(resize.attemptedBy[0], b.node);
    assert.equal(crunch.attemptedBy[0], b.node);
    assert.equal(notify.attemptedBy[0], a.node);
    const crunchPid = (crunch.result as { pid: number }).pid;
    assert.notEqual(crunchPid, b.pid, 'the cpu step ran in a worker process of node b');
    assert.ok(resize.attemptedAt! >= fetch.completedAt!);
    assert.ok(crunch.attemptedAt! >= resize.completedAt!);
    assert.deepEqual(notify.meta.workflow_results, { crunch: { pid: crunchPid }, fetch: { node: a.node } });
    await Promise.all([a.stop(), b.stop()]);
  });

  it('kill -9 of the node running a step: the step is rescued, reruns, and the workflow finishes', async () => {
    const a = node({ qa: 2 });
    const b = node({ qb: 2 });
    await Promise.all([a.ready, b.ready]);
    const wf = await oban
      .workflow()
      .add('slow', 'RecordWorker', { ms: 3_000 }, { queue: 'qa' })
      .add('after', 'RecordWorker', { ms: 0 }, { queue: 'qb', deps: ['slow'] })
      .insert();
    await waitFor(
      'slow running on a',
      async () =>
        (
          await schema.query(`SELECT 1 FROM "${schema.prefix}".runs WHERE job_id = $1 AND node = $2`, [
            wf.jobs.slow.id,
            a.node,
          ])
        ).length > 0,
      { timeout: 20_000, interval: 20 },
    );
    await a.kill();
    assert.equal((await oban.getJob(wf.jobs.slow.id))?.state, 'executing', 'left executing by the dead node');
    assert.equal((await oban.getJob(wf.jobs.after.id))?.state, 'suspended');
    const c = node({ qa: 2 });
    await c.ready;
    const after = await completed(wf.jobs.after, 60_000);
    const slow = (await oban.getJob(wf.jobs.slow.id))!;
    assert.equal(slow.attempt, 2);
    assert.equal(slow.attemptedBy[0], c.node);
    assert.match(JSON.stringify(slow.errors), new RegExp(`NodeDiedError: node ${a.node}`));
    assert.equal(after.attemptedBy[0], b.node);
    assert.ok(after.attemptedAt! >= slow.completedAt!);
    assert.deepEqual((await oban.workflowStatus(wf.id)).states, { completed: 2 });
    await Promise.all([b.stop(), c.stop()]);
  });
});
