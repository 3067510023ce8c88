import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { INestApplicationContext } from '@nestjs/common';
import { Oban, Worker, type Job } from '../lib';
import { createApp } from './support/app';
import { DATABASE_URL, TestSchema } from './support/db';
import { sleep, waitFor } from './support/wait';

/** Holds each job for args.ms, recording how many ran at once. */
@Worker({ queue: 'q' })
class HoldWorker {
  static running = 0;
  static maxRunning = 0;
  static order: number[] = [];
  async perform(job: Job<{ ms: number; n?: number }>) {
    HoldWorker.running++;
    HoldWorker.maxRunning = Math.max(HoldWorker.maxRunning, HoldWorker.running);
    if (job.args.n !== undefined) HoldWorker.order.push(job.args.n);
    await sleep(job.args.ms);
    HoldWorker.running--;
    return null;
  }
  static reset() {
    HoldWorker.running = 0;
    HoldWorker.maxRunning = 0;
    HoldWorker.order = [];
  }
}

describe('queues', () => {
  const schema = new TestSchema('queues');
  const apps: INestApplicationContext[] = [];
  const boot = async (oban: object) => {
    const app = await createApp({
      oban: { connection: DATABASE_URL, prefix: schema.prefix, migrate: true, ...oban },
      providers: [HoldWorker],
    });
    apps.push(app);
    return { app, oban: app.get(Oban) };
  };
  const closeAll = async () => {
    while (apps.length) await apps.pop()!.close();
    await schema.query(`DELETE FROM ${schema.jobs}`);
    HoldWorker.reset();
  };
  // Also after a failed test, whose app would otherwise go on running jobs of the next one.
  afterEach(closeAll);
  after(async () => {
    await closeAll();
    await schema.drop();
  });
  const completed = (n: number) =>
    waitFor(`${n} completed jobs`, async () => (await schema.count(`state = 'completed'`)) >= n);

  it('a queue never runs more jobs at once than its limit, and uses the whole limit', async () => {
    const { oban } = await boot({ queues: { q: 3 } });
    await oban.insertAll(Array.from({ length: 30 }, () => ({ worker: HoldWorker, args: { ms: 40 } })));
    await completed(30);
    assert.equal(HoldWorker.maxRunning, 3);
    await closeAll();
  });

  it('an insert wakes the queue through NOTIFY, with no poll to help', async () => {
    const { oban } = await boot({ queues: { q: 2 }, stageInterval: 60_000 });
    await sleep(200); // let the producer finish its first (empty) claim
    const started = Date.now();
    const job = await oban.insert(HoldWorker, { ms: 0 });
    await waitFor('the job', async () => (await oban.getJob(job.id))?.state === 'completed', { timeout: 5_000 });
    assert.ok(Date.now() - started < 5_000);
    await closeAll();
  });

  it('polling finds jobs whose notification was lost', async () => {
    await boot({ queues: { q: 2 }, stageInterval: 200 });
    await sleep(200);
    // Inserted behind nest-oban's back: no NOTIFY is sent.
    await schema.query(`INSERT INTO ${schema.jobs} (queue, worker, args) VALUES ('q', 'HoldWorker', '{"ms": 0}')`);
    await completed(1);
    await closeAll();
  });

  it('the notification connection comes back after the server kills it', async () => {
    const { oban } = await boot({ queues: { q: 2 }, stageInterval: 60_000 });
    await sleep(200);
    const killed = await schema.query(
      `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE query LIKE $1`,
      [`LISTEN "${schema.prefix}.%`],
    );
    assert.equal(killed.length, 1, 'found the LISTEN connection');
    await waitFor('a new LISTEN connection', async () => {
      const rows = await schema.query(`SELECT 1 FROM pg_stat_activity WHERE query LIKE $1 AND state = 'idle'`, [
        `LISTEN "${schema.prefix}.%`,
      ]);
      return rows.length === 1;
    });
    const job = await oban.insert(HoldWorker, { ms: 0 });
    await waitFor('the job after reconnect', async () => (await oban.getJob(job.id))?.state === 'completed');
    await closeAll();
  });

  it('claims skip rows another transaction has locked, and take them once released', async () => {
    const { oban } = await boot({ queues: { q: 5 }, stageInterval: 100 });
    const [locked, free] = await oban.insertAll([
      { worker: HoldWorker, args: { ms: 0 }, scheduleIn: 3600 },
      { worker: HoldWorker, args: { ms: 0 }, scheduleIn: 3600 },
    ]);
    const client = await schema.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SELECT id FROM ${schema.jobs} WHERE id = $1 FOR UPDATE`, [locked.id]);
      await schema.query(`UPDATE ${schema.jobs} SET state = 'available' WHERE id = $1`, [free.id]);
      await schema.query(`SELECT pg_notify($1, 'q')`, [`${schema.prefix}.oban_insert`]);
      await waitFor('the free job', async () => (await oban.getJob(free.id))?.state === 'completed');
      // Make the locked one available from inside the lock, commit, and see it run.
      await client.query(`UPDATE ${schema.jobs} SET state = 'available' WHERE id = $1`, [locked.id]);
      assert.equal((await oban.getJob(locked.id))?.state, 'scheduled', 'outside the transaction it is unchanged');
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    await waitFor('the released job', async () => (await oban.getJob(locked.id))?.state === 'completed');
    await closeAll();
  });

  it('scheduled jobs become available on time, not before', async () => {
    const { oban } = await boot({ queues: { q: 2 }, stageInterval: 100 });
    const job = await oban.insert(HoldWorker, { ms: 0 }, { scheduleIn: 1.5 });
    await sleep(1_000);
    assert.equal((await oban.getJob(job.id))?.state, 'scheduled');
    const done = await waitFor('the scheduled job', async () => {
      const j = await oban.getJob(job.id);
      return j?.state === 'completed' && j;
    });
    const late = done.attemptedAt!.getTime() - done.scheduledAt.getTime();
    assert.ok(late >= 0 && late < 1_500, `ran ${late} ms after its time`);
    await closeAll();
  });

  it('runs higher priority (lower number) first, then older first', async () => {
    const { oban } = await boot({ queues: { q: 1 }, stageInterval: 100 });
    await oban.pauseQueue('q');
    await oban.insertAll([
      { worker: HoldWorker, args: { ms: 0, n: 3 }, priority: 5 },
      { worker: HoldWorker, args: { ms: 0, n: 1 }, priority: 0 },
      { worker: HoldWorker, args: { ms: 0, n: 4 }, priority: 9 },
      { worker: HoldWorker, args: { ms: 0, n: 2 }, priority: 0 },
    ]);
    await oban.resumeQueue('q');
    await completed(4);
    assert.deepEqual(HoldWorker.order, [1, 2, 3, 4]);
    await closeAll();
  });

  it('one claim of several jobs starts them in priority order, whatever their ids', async () => {
    const { oban } = await boot({ queues: { q: 4 }, stageInterval: 100 });
    await oban.pauseQueue('q');
    // Ids in the reverse of the order they must start in: a claim returning rows by id would start 4 first.
    await oban.insertAll([4, 3, 2, 1].map((n) => ({ worker: HoldWorker, args: { ms: 0, n }, priority: n })));
    await oban.resumeQueue('q');
    await completed(4);
    assert.deepEqual(HoldWorker.order, [1, 2, 3, 4]);
    await closeAll();
  });

  it('pause stops new jobs, resume restarts them, scale changes the limit', async () => {
    const { oban } = await boot({ queues: { q: 1 }, stageInterval: 100 });
    await oban.pauseQueue('q');
    assert.equal(oban.checkQueue('q')?.paused, true);
    const job = await oban.insert(HoldWorker, { ms: 0 });
    await sleep(500);
    assert.equal((await oban.getJob(job.id))?.state, 'available');
    await oban.resumeQueue('q');
    await waitFor('the job after resume', async () => (await oban.getJob(job.id))?.state === 'completed');

    await oban.scaleQueue('q', 4);
    assert.equal(oban.checkQueue('q')?.limit, 4);
    await oban.insertAll(Array.from({ length: 12 }, () => ({ worker: HoldWorker, args: { ms: 60 } })));
    await completed(13);
    assert.equal(HoldWorker.maxRunning, 4);
    await assert.rejects(oban.scaleQueue('q', 0), /scaleQueue\('q'\): limit must be a whole number >= 1, got 0/);
    await assert.rejects(oban.pauseQueue('nope'), /pauseQueue: unknown queue "nope"/);
    await closeAll();
  });
});
