import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { INestApplicationContext } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Oban, ObanValidationError, Worker, type Job } from '../lib';
import { createApp } from './support/app';
import { DATABASE_URL, TestSchema } from './support/db';
import { waitFor } from './support/wait';

@Worker({ queue: 'batch', maxAttempts: 1 })
class MemberWorker {
  perform(job: Job<{ fail?: boolean }>) {
    if (job.args.fail) throw new Error('member failed');
    return { ok: job.id };
  }
}

/** Records that it ran; its meta names the batch and the callback. */
@Worker({ queue: 'batch' })
class CallbackWorker {
  perform(job: Job<{ label: string }>) {
    return { label: job.args.label, batch: job.meta.callback_of_batch, kind: job.meta.batch_callback };
  }
}

@Worker({ queue: 'parked' })
class ParkedWorker {
  perform() {}
}

const callbacks = (label: string) => ({
  onCompleted: { worker: CallbackWorker, args: { label: `${label}:completed` } },
  onExhausted: { worker: CallbackWorker, args: { label: `${label}:exhausted` } },
  onDiscarded: { worker: CallbackWorker, args: { label: `${label}:discarded` } },
});

describe('batches', () => {
  const schema = new TestSchema('batch');
  let app: INestApplicationContext;
  let oban: Oban;
  let dataSource: DataSource;
  before(async () => {
    app = await createApp({
      oban: { connection: DATABASE_URL, prefix: schema.prefix, migrate: true, queues: { batch: 10 } },
      providers: [MemberWorker, CallbackWorker, ParkedWorker],
    });
    oban = app.get(Oban);
    dataSource = await new DataSource({ type: 'postgres', url: DATABASE_URL }).initialize();
  });
  after(async () => {
    await dataSource?.destroy();
    await app?.close();
    await schema.drop();
  });

  /** The callback jobs of a batch, by kind. */
  const callbackJobs = async (id: string) => {
    const rows = await schema.query(
      `SELECT meta->>'batch_callback' AS kind, count(*)::int AS n FROM ${schema.jobs}
       WHERE meta->>'callback_of_batch' = $1 GROUP BY 1 ORDER BY 1`,
      [id],
    );
    return Object.fromEntries(rows.map((r) => [r.kind, r.n]));
  };
  const finished = (id: string) =>
    waitFor(`batch ${id} finished`, async () => {
      const status = await oban.batchStatus(id);
      return status?.finished && status;
    });
  const settle = (id: string, kinds: string[]) =>
    waitFor(`callbacks ${kinds.join(', ')} of ${id} completed`, async () => {
      const rows = await schema.query(
        `SELECT count(*)::int AS n FROM ${schema.jobs} WHERE meta->>'callback_of_batch' = $1 AND state = 'completed'`,
        [id],
      );
      return rows[0].n === kinds.length;
    });

  it('all members completed: onCompleted and onExhausted, once each, as jobs that run', async () => {
    const batch = await oban
      .batch(callbacks('all'))
      .add(MemberWorker, {})
      .add(MemberWorker, {})
      .add(MemberWorker, {})
      .insert();
    assert.equal(batch.jobs.length, 3);
    assert.ok(batch.jobs.every((j) => j.meta.batch_id === batch.id));
    const status = await finished(batch.id);
    assert.equal(status.completed, 3);
    assert.equal(status.failed, 0);
    await settle(batch.id, ['completed', 'exhausted']);
    assert.deepEqual(await callbackJobs(batch.id), { completed: 1, exhausted: 1 });
    const fired = (await oban.batchStatus(batch.id))!.fired;
    const completedCallback = await oban.getJob(fired.onCompleted!);
    assert.deepEqual(completedCallback?.result, { label: 'all:completed', batch: batch.id, kind: 'completed' });
  });

  it('a member discarded: onDiscarded at the first failure only, then onExhausted, never onCompleted', async () => {
    const batch = await oban
      .batch(callbacks('fail'))
      .add(MemberWorker, { fail: true })
      .add(MemberWorker, { fail: true })
      .add(MemberWorker, {})
      .insert();
    const status = await finished(batch.id);
    assert.deepEqual([status.completed, status.failed], [1, 2]);
    await settle(batch.id, ['discarded', 'exhausted']);
    assert.deepEqual(await callbackJobs(batch.id), { discarded: 1, exhausted: 1 });
  });

  it('a member cancelled or deleted by hand counts as failed and fires like a discard', async () => {
    const batch = await oban
      .batch(callbacks('hand'))
      .add(ParkedWorker, {})
      .add(ParkedWorker, {})
      .add(ParkedWorker, {})
      .insert();
    await oban.cancelJob(batch.jobs[0].id);
    assert.deepEqual(await callbackJobs(batch.id), { discarded: 1 }, 'fired in the cancel itself');
    assert.equal(await oban.deleteJob(batch.jobs[1].id), true);
    await schema.query(`UPDATE ${schema.jobs} SET state = 'completed', completed_at = now() WHERE id = $1`, [
      batch.jobs[2].id,
    ]);
    const status = (await oban.batchStatus(batch.id))!;
    assert.deepEqual([status.pending, status.completed, status.failed, status.finished], [0, 1, 2, true]);
    assert.deepEqual(await callbackJobs(batch.id), { discarded: 1, exhausted: 1 });
  });

  it('an empty batch fires onCompleted and onExhausted at insert; a batch of one when that one ends', async () => {
    const empty = await oban.batch(callbacks('empty')).insert();
    assert.deepEqual(empty.jobs, []);
    assert.deepEqual(await callbackJobs(empty.id), { completed: 1, exhausted: 1 });
    assert.equal((await oban.batchStatus(empty.id))?.finished, true);

    const one = await oban.batch(callbacks('one')).add(ParkedWorker, {}).insert();
    assert.deepEqual(await callbackJobs(one.id), {});
    await schema.query(`UPDATE ${schema.jobs} SET state = 'completed', completed_at = now() WHERE id = $1`, [
      one.jobs[0].id,
    ]);
    assert.deepEqual(await callbackJobs(one.id), { completed: 1, exhausted: 1 });
  });

  it('grows while it has unfinished members; refused once finished', async () => {
    const batch = await oban
      .batch({ ...callbacks('grow'), id: 'grow-1' })
      .add(ParkedWorker, {})
      .insert();
    assert.equal(batch.id, 'grow-1');
    const added = await oban.addToBatch('grow-1', [
      { worker: ParkedWorker, args: {} },
      { worker: ParkedWorker, args: {} },
    ]);
    assert.equal(added.length, 2);
    assert.ok(added.every((j) => j.meta.batch_id === 'grow-1'));
    const ids = [batch.jobs[0].id, ...added.map((j) => j.id)];
    await schema.query(`UPDATE ${schema.jobs} SET state = 'completed', completed_at = now() WHERE id = ANY($1)`, [
      ids.slice(0, 2),
    ]);
    assert.deepEqual(await callbackJobs('grow-1'), {}, 'one added member is still to run');
    await schema.query(`UPDATE ${schema.jobs} SET state = 'completed', completed_at = now() WHERE id = $1`, [ids[2]]);
    assert.deepEqual(await callbackJobs('grow-1'), { completed: 1, exhausted: 1 });
    assert.equal((await oban.batchStatus('grow-1'))?.total, 3);
    await assert.rejects(
      oban.addToBatch('grow-1', [{ worker: ParkedWorker, args: {} }]),
      /addToBatch\('grow-1'\): batch 'grow-1' has finished/,
    );
    await assert.rejects(oban.addToBatch('no-such', [{ worker: ParkedWorker, args: {} }]), /no batch 'no-such'/);
    await assert.rejects(oban.batch({ id: 'grow-1' }).insert(), /a batch with id 'grow-1' exists already/);
  });

  it('the last two members finishing in concurrent transactions fire each callback exactly once', async () => {
    for (let round = 0; round < 5; round++) {
      const batch = await oban
        .batch(callbacks(`race${round}`))
        .add(ParkedWorker, {})
        .add(ParkedWorker, {})
        .insert();
      const [a, b] = await Promise.all([schema.pool.connect(), schema.pool.connect()]);
      try {
        await Promise.all([a.query('BEGIN'), b.query('BEGIN')]);
        const done = `UPDATE ${schema.jobs} SET state = 'completed', completed_at = now() WHERE id = $1`;
        await a.query(done, [batch.jobs[0].id]);
        const second = b.query(done, [batch.jobs[1].id]); // waits for a's lock on the batch row
        await a.query('COMMIT');
        await second;
        await b.query('COMMIT');
      } finally {
        a.release();
        b.release();
      }
      assert.deepEqual(await callbackJobs(batch.id), { completed: 1, exhausted: 1 }, `round ${round}`);
    }
  });

  it('a failed member retried and completed: onCompleted fires then, onExhausted not again', async () => {
    const batch = await oban.batch(callbacks('retry')).add(ParkedWorker, {}).add(ParkedWorker, {}).insert();
    await oban.cancelJob(batch.jobs[0].id);
    await schema.query(`UPDATE ${schema.jobs} SET state = 'completed', completed_at = now() WHERE id = $1`, [
      batch.jobs[1].id,
    ]);
    assert.deepEqual(await callbackJobs(batch.id), { discarded: 1, exhausted: 1 });
    await oban.retryJob(batch.jobs[0].id);
    assert.equal((await oban.batchStatus(batch.id))?.pending, 1, 'back to pending');
    await schema.query(`UPDATE ${schema.jobs} SET state = 'completed', completed_at = now() WHERE id = $1`, [
      batch.jobs[0].id,
    ]);
    assert.deepEqual(await callbackJobs(batch.id), { completed: 1, discarded: 1, exhausted: 1 });
  });

  it("inserts in the caller's transaction; bad options and callbacks are refused naming them", async () => {
    await assert.rejects(
      dataSource.transaction(async (manager) => {
        await oban.batch({ id: 'rolled-back' }).add(ParkedWorker, {}).insert({ manager });
        throw new Error('roll back');
      }),
      /roll back/,
    );
    assert.equal(await oban.batchStatus('rolled-back'), null);
    assert.throws(() => oban.batch({ onDone: {} } as never), /batch: unknown option 'onDone'/);
    await assert.rejects(
      oban.batch({ onCompleted: { worker: 'NoSuchWorker' } }).insert(),
      (e: unknown) =>
        e instanceof ObanValidationError && /batch onCompleted \('NoSuchWorker'\): unknown worker/.test(e.message),
    );
    await assert.rejects(
      oban
        .batch()
        .add(MemberWorker, { fail: 1n } as never)
        .insert(),
      /batch member 0 \(MemberWorker\): .*args/,
    );
  });
});
