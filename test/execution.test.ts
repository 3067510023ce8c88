import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { INestApplicationContext } from '@nestjs/common';
import { JobCancel, Oban, Worker, cancel, snooze, type Job, type PerformContext } from '../lib';
import { createApp } from './support/app';
import { DATABASE_URL, TestSchema } from './support/db';
import { waitFor } from './support/wait';

type Step = 'ok' | 'fail' | 'snooze' | 'throw-snooze' | 'cancel' | 'throw-cancel' | 'hang' | 'bigint' | 'throw-string';

/** Does, on its Nth run (attempts plus snoozes), what args.steps[N-1] says. */
@Worker({ queue: 'exec', maxAttempts: 3, backoff: 0 })
class ScriptedWorker {
  static aborted = new Map<number, unknown>();
  async perform(job: Job<{ steps: Step[] }>, { signal }: PerformContext) {
    const run = job.attempt + Number(job.meta.snoozed ?? 0);
    const step = job.args.steps[Math.min(run, job.args.steps.length) - 1];
    switch (step) {
      case 'ok':
        return { attempt: job.attempt };
      case 'fail':
        throw new TypeError(`boom on attempt ${job.attempt}`);
      case 'throw-string':
        throw 'a bare string';
      case 'snooze':
        return snooze(0.2);
      case 'throw-snooze':
        throw snooze(0.2);
      case 'cancel':
        return cancel('no longer wanted');
      case 'throw-cancel':
        throw new JobCancel('customer left');
      case 'bigint':
        return { big: 1n };
      case 'hang':
        return new Promise((resolve) => {
          signal.addEventListener('abort', () => {
            ScriptedWorker.aborted.set(job.id, signal.reason);
            resolve('too late');
          });
        });
    }
  }
}

@Worker({ queue: 'exec', timeout: 300, maxAttempts: 1 })
class SlowWorker {
  static aborted = new Map<number, unknown>();
  perform(job: Job, { signal }: PerformContext) {
    return new Promise((resolve) =>
      signal.addEventListener('abort', () => {
        SlowWorker.aborted.set(job.id, signal.reason);
        resolve('stopped');
      }),
    );
  }
}

@Worker({ queue: 'exec', maxAttempts: 5 })
class BackoffMethodWorker {
  perform(): never {
    throw new Error('always');
  }
  backoff(job: Job) {
    return 30 * job.attempt;
  }
}

@Worker({ queue: 'exec', maxAttempts: 5 })
class DefaultBackoffWorker {
  perform(): never {
    throw new Error('always');
  }
}

describe('execution outcomes', () => {
  const schema = new TestSchema('exec');
  let app: INestApplicationContext;
  let oban: Oban;
  before(async () => {
    app = await createApp({
      oban: { connection: DATABASE_URL, prefix: schema.prefix, migrate: true, queues: { exec: 10 } },
      providers: [ScriptedWorker, SlowWorker, BackoffMethodWorker, DefaultBackoffWorker],
    });
    oban = app.get(Oban);
  });
  after(async () => {
    await app?.close();
    await schema.drop();
  });

  const settled = (id: number, states = ['completed', 'discarded', 'cancelled']) =>
    waitFor(`job ${id} to settle`, async () => {
      const job = await oban.getJob(id);
      return job && states.includes(job.state) ? job : null;
    });

  it('a returned value completes the job and is kept as its result', async () => {
    const job = await settled((await oban.insert(ScriptedWorker, { steps: ['ok'] })).id);
    assert.equal(job.state, 'completed');
    assert.deepEqual(job.result, { attempt: 1 });
    assert.ok(job.completedAt instanceof Date);
    assert.deepEqual(job.errors, []);
  });

  it('a throw records the error and retries; the retry can complete', async () => {
    const job = await settled((await oban.insert(ScriptedWorker, { steps: ['fail', 'ok'] })).id);
    assert.equal(job.state, 'completed');
    assert.equal(job.attempt, 2);
    assert.equal(job.errors.length, 1);
    const [error] = job.errors;
    assert.equal(error.attempt, 1);
    assert.equal(error.error, 'TypeError: boom on attempt 1');
    assert.match(error.stack!, /execution\.test\.ts/);
    assert.ok(!Number.isNaN(Date.parse(error.at)));
  });

  it('the last failing attempt discards the job with every error kept', async () => {
    const job = await settled((await oban.insert(ScriptedWorker, { steps: ['fail', 'throw-string', 'fail'] })).id);
    assert.equal(job.state, 'discarded');
    assert.equal(job.attempt, 3);
    assert.deepEqual(
      job.errors.map((e) => [e.attempt, e.error]),
      [
        [1, 'TypeError: boom on attempt 1'],
        [2, 'Thrown value: a bare string'],
        [3, 'TypeError: boom on attempt 3'],
      ],
    );
    assert.ok(job.discardedAt instanceof Date);
  });

  it('snooze, returned or thrown, runs again later without counting the attempt', async () => {
    for (const step of ['snooze', 'throw-snooze'] as const) {
      const inserted = await oban.insert(ScriptedWorker, { steps: [step, step, 'ok'] }, { maxAttempts: 1 });
      const job = await settled(inserted.id);
      assert.equal(job.state, 'completed', `${step}: ${JSON.stringify(job.errors)}`);
      assert.equal(job.attempt, 1, 'snoozes did not use up the single attempt');
      assert.equal(job.meta.snoozed, 2);
      assert.deepEqual(job.errors, []);
    }
  });

  it('cancel, returned or thrown, ends the job cancelled with the reason', async () => {
    const returned = await settled((await oban.insert(ScriptedWorker, { steps: ['cancel'] })).id);
    assert.equal(returned.state, 'cancelled');
    assert.equal(returned.errors[0].error, 'JobCancel: no longer wanted');
    assert.ok(returned.cancelledAt instanceof Date);
    const thrown = await settled((await oban.insert(ScriptedWorker, { steps: ['throw-cancel'] })).id);
    assert.equal(thrown.state, 'cancelled');
    assert.equal(thrown.errors[0].error, 'JobCancel: customer left');
  });

  it('a timeout fails the attempt and aborts the signal', async () => {
    const job = await settled((await oban.insert(SlowWorker, {})).id);
    assert.equal(job.state, 'discarded');
    assert.equal(job.errors[0].error, 'JobTimeoutError: SlowWorker job ' + job.id + ' timed out after 300 ms');
    assert.equal((SlowWorker.aborted.get(job.id) as Error)?.name, 'JobTimeoutError');
  });

  it('cancelling a running job aborts the AbortSignal perform received', async () => {
    const inserted = await oban.insert(ScriptedWorker, { steps: ['hang', 'ok'] });
    await waitFor('the job to start', async () => (await oban.getJob(inserted.id))?.state === 'executing');
    await oban.cancelJob(inserted.id);
    const reason = await waitFor('the abort', () => ScriptedWorker.aborted.get(inserted.id));
    assert.equal((reason as Error).name, 'JobCancelledError');
    const job = await oban.getJob(inserted.id);
    assert.equal(job?.state, 'cancelled');
  });

  it('a result that is not JSON fails the attempt, naming the worker and the path', async () => {
    const job = await settled((await oban.insert(ScriptedWorker, { steps: ['bigint'] }, { maxAttempts: 1 })).id);
    assert.equal(job.state, 'discarded');
    assert.match(
      job.errors[0].error,
      /ResultNotJsonError: ScriptedWorker.perform returned a value nest-oban cannot store: result.big is a BigInt/,
    );
  });

  it('a worker backoff method sets when the retry runs', async () => {
    const inserted = await oban.insert(BackoffMethodWorker, {});
    const job = await waitFor('the retry to be scheduled', async () => {
      const j = await oban.getJob(inserted.id);
      return j?.state === 'retryable' && j;
    });
    const [{ delay }] = await schema.query(
      `SELECT extract(epoch FROM scheduled_at - attempted_at)::float AS delay FROM ${schema.jobs} WHERE id = $1`,
      [job.id],
    );
    assert.ok(Math.abs(delay - 30) < 2, `retry scheduled ${delay}s after the attempt`);
  });

  it('the default backoff grows with the attempt, from 15 s plus jitter', async () => {
    const inserted = await oban.insert(DefaultBackoffWorker, {});
    await waitFor('the retry', async () => (await oban.getJob(inserted.id))?.state === 'retryable');
    const [{ delay }] = await schema.query(
      `SELECT extract(epoch FROM scheduled_at - attempted_at)::float AS delay FROM ${schema.jobs} WHERE id = $1`,
      [inserted.id],
    );
    assert.ok(delay >= 16 && delay <= 20, `first retry after ${delay}s (15 + 2^1, up to 10% jitter)`);
  });

  it('a row whose worker no node knows ends discarded with an error naming it', async () => {
    const [{ id }] = await schema.query(
      `INSERT INTO ${schema.jobs} (queue, worker, args) VALUES ('exec', 'Ghost.Worker', '{}') RETURNING id`,
    );
    await schema.query(`SELECT pg_notify($1, 'exec')`, [`${schema.prefix}.oban_insert`]);
    const job = await settled(Number(id));
    assert.equal(job.state, 'discarded');
    assert.match(
      job.errors[0].error,
      /UnknownWorkerError: no @Worker named 'Ghost.Worker' is registered on node .*queue 'exec'/,
    );
  });
});
