import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { INestApplicationContext } from '@nestjs/common';
import { Oban, Worker, type Job, type PerformContext } from '../lib';
import { createApp } from './support/app';
import { DATABASE_URL, TestSchema } from './support/db';
import { waitFor } from './support/wait';

@Worker({ queue: 'api', maxAttempts: 1 })
class ApiWorker {
  perform(job: Job<{ mode: 'ok' | 'fail' | 'wait' }>, { signal }: PerformContext) {
    if (job.args.mode === 'fail') throw new Error('nope');
    if (job.args.mode === 'wait') return new Promise((resolve) => signal.addEventListener('abort', resolve));
    return 'done';
  }
}

/** On a queue this node does not run, so its jobs stay put. */
@Worker({ queue: 'parked' })
class ParkedWorker {
  perform() {}
}

describe('job and queue API', () => {
  const schema = new TestSchema('api');
  let app: INestApplicationContext;
  let oban: Oban;
  before(async () => {
    app = await createApp({
      oban: { connection: DATABASE_URL, prefix: schema.prefix, migrate: true, queues: { api: 5 } },
      providers: [ApiWorker, ParkedWorker],
    });
    oban = app.get(Oban);
  });
  after(async () => {
    await app?.close();
    await schema.drop();
  });
  const inState = (id: number, state: string) =>
    waitFor(`job ${id} ${state}`, async () => {
      const job = await oban.getJob(id);
      return job?.state === state && job;
    });

  it('getJob returns null for an unknown id and rejects a bad one', async () => {
    assert.equal(await oban.getJob(987654321), null);
    await assert.rejects(oban.getJob(-1), /getJob: job id must be a positive integer, got -1/);
  });

  it('listJobs filters by state, queue and worker, with a limit', async () => {
    const parked = await oban.insertAll([
      { worker: ParkedWorker, args: { n: 1 } },
      { worker: ParkedWorker, args: { n: 2 }, scheduleIn: 60 },
      { worker: ParkedWorker, args: { n: 3 } },
    ]);
    const byQueue = await oban.listJobs({ queue: 'parked' });
    assert.deepEqual(
      byQueue.map((j) => j.id),
      parked.map((j) => j.id),
    );
    const available = await oban.listJobs({ queue: 'parked', state: 'available' });
    assert.deepEqual(
      available.map((j) => j.args.n),
      [1, 3],
    );
    const either = await oban.listJobs({ worker: 'ParkedWorker', state: ['available', 'scheduled'], limit: 2 });
    assert.deepEqual(
      either.map((j) => j.args.n),
      [1, 2],
    );
    await assert.rejects(oban.listJobs({ state: 'done' as any }), /listJobs: unknown state "done"/);
  });

  it('cancelJob cancels a waiting job and leaves a finished one as it is', async () => {
    const waiting = await oban.insert(ParkedWorker, {});
    const cancelled = await oban.cancelJob(waiting.id);
    assert.equal(cancelled?.state, 'cancelled');
    assert.ok(cancelled?.cancelledAt instanceof Date);

    const finished = await inState((await oban.insert(ApiWorker, { mode: 'ok' })).id, 'completed');
    assert.equal((await oban.cancelJob(finished.id))?.state, 'completed');
    assert.equal(await oban.cancelJob(987654321), null);
  });

  it('cancelJob stops a running job; it ends cancelled, not failed', async () => {
    const running = await inState((await oban.insert(ApiWorker, { mode: 'wait' })).id, 'executing');
    await oban.cancelJob(running.id);
    await waitFor('the queue slot to free', () => oban.checkQueue('api')?.running === 0);
    const job = await oban.getJob(running.id);
    assert.equal(job?.state, 'cancelled');
    assert.deepEqual(job?.errors, []);
  });

  it('retryJob runs a discarded job again, with one more attempt', async () => {
    const discarded = await inState((await oban.insert(ApiWorker, { mode: 'fail' })).id, 'discarded');
    assert.equal(discarded.attempt, 1);
    await schema.query(`UPDATE ${schema.jobs} SET args = '{"mode": "ok"}' WHERE id = $1`, [discarded.id]);
    const retried = await oban.retryJob(discarded.id);
    assert.equal(retried?.maxAttempts, 2);
    const done = await inState(discarded.id, 'completed');
    assert.equal(done.attempt, 2);
    assert.equal(done.discardedAt, null);
    assert.equal(done.errors.length, 1, 'the earlier error is kept');
  });

  it('retryJob makes a scheduled job run now and leaves an available one alone', async () => {
    const scheduled = await oban.insert(ParkedWorker, {}, { scheduleIn: 3600 });
    const retried = await oban.retryJob(scheduled.id);
    assert.equal(retried?.state, 'available');
    assert.ok(retried!.scheduledAt.getTime() <= Date.now() + 1000);
    assert.equal((await oban.retryJob(scheduled.id))?.state, 'available');
  });

  it('deleteJob deletes, reports a missing job, and refuses a running one', async () => {
    const parked = await oban.insert(ParkedWorker, {});
    assert.equal(await oban.deleteJob(parked.id), true);
    assert.equal(await oban.getJob(parked.id), null);
    assert.equal(await oban.deleteJob(parked.id), false);

    const running = await inState((await oban.insert(ApiWorker, { mode: 'wait' })).id, 'executing');
    await assert.rejects(oban.deleteJob(running.id), /deleteJob\(\d+\): the job is executing; cancel it first/);
    await oban.cancelJob(running.id);
    assert.equal(await oban.deleteJob(running.id), true);
  });
});
