import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { INestApplicationContext } from '@nestjs/common';
import { Oban } from '../lib';
import { type TestNode, killAll, leadersAt, startNode } from './support/cluster';
import { createApp } from './support/app';
import { DATABASE_URL, TestSchema } from './support/db';
import { waitFor } from './support/wait';

const JOBS = 5_000;

describe('orphan rescue: 2 node processes, one killed mid-run', () => {
  const schema = new TestSchema('cluster_rescue');
  const nodes: TestNode[] = [];
  before(async () => {
    await schema.query(`CREATE SCHEMA IF NOT EXISTS "${schema.prefix}"`);
    await schema.query(`CREATE TABLE "${schema.prefix}".runs (
      id bigserial PRIMARY KEY, job_id bigint NOT NULL, attempt int NOT NULL, node text NOT NULL,
      started_ms bigint NOT NULL, ended_ms bigint)`);
  });
  after(async () => {
    await killAll(nodes);
    await schema.drop();
  });

  it(`drains ${JOBS} jobs to completed; none ran on two live nodes at once`, async () => {
    const settings = {
      prefix: schema.prefix,
      databaseUrl: DATABASE_URL,
      oban: { queues: { default: 10 }, heartbeatInterval: 200, leaderTtl: 1_000, nodeTtl: 2_000 },
    };
    const group = [startNode(settings), startNode(settings)];
    nodes.push(...group);
    await Promise.all(group.map((n) => n.ready));
    await schema.query(
      `INSERT INTO ${schema.jobs} (worker, queue, args, max_attempts)
       SELECT 'RecordWorker', 'default', '{"ms": 3}', 5 FROM generate_series(1, ${JOBS})`,
    );
    await schema.query(`SELECT pg_notify($1, 'default')`, [`${schema.prefix}.oban_insert`]);

    await waitFor('a third of the jobs done', async () => (await schema.count(`state = 'completed'`)) >= JOBS / 3, {
      timeout: 60_000,
      interval: 50,
    });
    // Kill the leader: the survivor must first take over, then rescue.
    const victim = leadersAt(group)[0] ?? group[0];
    const survivor = group.find((n) => n !== victim)!;
    const deadAt = await victim.kill();
    const orphaned = await schema.query<{ id: string }>(
      `SELECT id FROM ${schema.jobs} WHERE state = 'executing' AND attempted_by[1] = $1`,
      [victim.node],
    );
    assert.ok(orphaned.length > 0, 'the killed node left jobs executing');

    await waitFor(
      'the orphans rescued',
      async () => (await schema.count(`state = 'executing' AND attempted_by[1] = $1`, [victim.node])) === 0,
      { timeout: 30_000, interval: 50 },
    );
    await waitFor('all jobs completed', async () => (await schema.count(`state = 'completed'`)) === JOBS, {
      timeout: 120_000,
      interval: 100,
    });
    assert.equal(await schema.count(), JOBS);

    const rescued = await schema.query(
      `SELECT id, errors, meta, attempted_by FROM ${schema.jobs} WHERE id = ANY($1::bigint[])`,
      [orphaned.map((o) => o.id)],
    );
    for (const job of rescued) {
      assert.match(JSON.stringify(job.errors), new RegExp(`NodeDiedError: node ${victim.node} stopped heartbeating`));
      assert.equal(job.meta.rescued, 1);
      assert.equal(job.attempted_by[0], survivor.node, 'rerun on the survivor');
    }

    // Every run by node and time: runs of one job on two nodes must not overlap
    // while both ran (the killed node's unfinished runs end at its death).
    const runs = await schema.query<{ job_id: string; node: string; started_ms: string; ended_ms: string | null }>(
      `SELECT job_id, node, started_ms, ended_ms FROM "${schema.prefix}".runs ORDER BY job_id, started_ms`,
    );
    const byJob = new Map<string, Array<{ node: string; start: number; end: number }>>();
    for (const r of runs) {
      const end = r.ended_ms !== null ? Number(r.ended_ms) : r.node === victim.node ? deadAt : Infinity;
      const list = byJob.get(r.job_id) ?? [];
      list.push({ node: r.node, start: Number(r.started_ms), end });
      byJob.set(r.job_id, list);
    }
    assert.equal(byJob.size, JOBS, 'every job ran');
    for (const [id, list] of byJob) {
      for (const a of list) {
        assert.ok(a.start < deadAt || a.node !== victim.node, `job ${id}: no run began on the dead node`);
        for (const b of list) {
          if (a !== b && a.node !== b.node) {
            assert.ok(a.end <= b.start || b.end <= a.start, `job ${id} ran on ${a.node} and ${b.node} at once`);
          }
        }
      }
    }
    await survivor.stop();
  });
});

describe('lifeline in the database', () => {
  const schema = new TestSchema('cluster_lifeline');
  let app: INestApplicationContext;
  before(async () => {
    app = await createApp({
      oban: {
        connection: DATABASE_URL,
        prefix: schema.prefix,
        migrate: true,
        queues: {},
        heartbeatInterval: 100,
        leaderTtl: 400,
        nodeTtl: 600,
      },
    });
  });
  after(async () => {
    await app?.close();
    await schema.drop();
  });

  it('rescues jobs of dead nodes only: available, or discarded past max attempts with the reason', async () => {
    const nodes = `"${schema.prefix}".oban_nodes`;
    await schema.query(`INSERT INTO ${nodes} (node, expires_at) VALUES ('dead-node', now() - interval '1 second'),
      ('live-node', now() + interval '1 hour')`);
    const insert = async (node: string, attempt: number, maxAttempts: number) => {
      const [row] = await schema.query(
        `INSERT INTO ${schema.jobs} (state, worker, queue, attempt, max_attempts, attempted_at, attempted_by)
         VALUES ('executing', 'Elsewhere', 'remote', $2, $3, now(), ARRAY[$1]) RETURNING id`,
        [node, attempt, maxAttempts],
      );
      return Number(row.id);
    };
    const spent = await insert('dead-node', 3, 3);
    const retry = await insert('dead-node', 1, 3);
    const vanished = await insert('never-seen-node', 1, 3); // no row at all
    const alive = await insert('live-node', 1, 3);

    const oban = app.get(Oban);
    const job = (id: number) => oban.getJob(id);
    await waitFor(
      'rescue',
      async () => (await job(spent))?.state === 'discarded' && (await job(retry))?.state === 'available',
    );
    const discarded = (await job(spent))!;
    assert.ok(discarded.discardedAt);
    assert.match(
      discarded.errors.at(-1)!.error,
      /^NodeDiedError: node dead-node stopped heartbeating while running this job$/,
    );
    assert.equal(discarded.errors.at(-1)!.attempt, 3);
    const available = (await job(retry))!;
    assert.match(available.errors.at(-1)!.error, /NodeDiedError: node dead-node/);
    assert.equal(available.meta.rescued, 1);
    assert.equal(available.attempt, 1, 'the lost attempt stays counted');

    // A node without a row is rescued too, once the leader has led for a node TTL.
    await waitFor('rescue of a node without a row', async () => (await job(vanished))?.state === 'available');
    assert.equal((await job(alive))?.state, 'executing', 'a live node keeps its job');
  });
});

describe('orphan rescue covers the process pool', () => {
  const schema = new TestSchema('cluster_rescue_pool');
  const nodes: TestNode[] = [];
  before(async () => {
    await schema.query(`CREATE SCHEMA IF NOT EXISTS "${schema.prefix}"`);
    await schema.query(`CREATE TABLE "${schema.prefix}".runs (
      id bigserial PRIMARY KEY, job_id bigint NOT NULL, attempt int NOT NULL, node text NOT NULL,
      started_ms bigint NOT NULL, ended_ms bigint, pid int)`);
  });
  after(async () => {
    await killAll(nodes);
    await schema.drop();
  });

  it('kill -9 of a node ends its worker process, and the job it ran is rescued and run elsewhere', async () => {
    const settings = (processes: number) => ({
      prefix: schema.prefix,
      databaseUrl: DATABASE_URL,
      cpu: true,
      oban: { queues: { cpu: 1 }, processes, heartbeatInterval: 200, leaderTtl: 1_000, nodeTtl: 2_000 },
    });
    const first = startNode(settings(1));
    nodes.push(first);
    await first.ready;
    await schema.query(
      `INSERT INTO ${schema.jobs} (worker, queue, args, max_attempts) VALUES ('CpuRecordWorker', 'cpu', '{"firstMs": 120000}', 3)`,
    );
    await schema.query(`SELECT pg_notify($1, 'cpu')`, [`${schema.prefix}.oban_insert`]);
    const [run] = await waitFor('the job running in a worker process', () =>
      schema
        .query<{ pid: number; job_id: string }>(`SELECT pid, job_id FROM "${schema.prefix}".runs`)
        .then((r) => (r.length > 0 ? r : null)),
    );
    assert.notEqual(run.pid, first.pid, 'ran in a child process');
    const second = startNode(settings(1));
    nodes.push(second);
    await second.ready;

    await first.kill();
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await waitFor('the worker process gone with its node', () => !alive(run.pid), { timeout: 15_000 });
    const done = await waitFor(
      'the job completed on the other node',
      async () => {
        const [job] = await schema.query(`SELECT * FROM ${schema.jobs} WHERE id = $1`, [run.job_id]);
        return job.state === 'completed' ? job : null;
      },
      { timeout: 30_000 },
    );
    assert.equal(done.attempted_by[0], second.node);
    assert.match(JSON.stringify(done.errors), new RegExp(`NodeDiedError: node ${first.node} stopped heartbeating`));
    await second.stop();
  });
});
