import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { INestApplicationContext } from '@nestjs/common';
import { Oban, Worker, snooze, type Job } from '../../lib';
import { createApp } from '../support/app';
import { DATABASE_URL, TestSchema } from '../support/db';
import { waitFor } from '../support/wait';

type Bad =
  'nul-error' | 'surrogate-result' | 'nul-result' | 'huge-snooze' | 'huge-backoff' | 'big-result' | 'poison' | 'ok';

/** Ends its attempt with a value the database cannot take as it is, or completes. */
@Worker({ queue: 'outcomes', maxAttempts: 2 })
class AwkwardWorker {
  perform(job: Job<{ bad: Bad; n?: number }>) {
    switch (job.args.bad) {
      case 'nul-error':
        throw new Error('a\u0000b');
      case 'surrogate-result':
        return '\uD800';
      case 'nul-result':
        return { text: 'x\u0000y' };
      case 'huge-snooze':
        return snooze(1e300);
      case 'huge-backoff':
        throw new Error('retry me much later');
      case 'big-result':
        return 'x'.repeat(2_000);
      case 'poison':
        return 'poison';
      case 'ok':
        return { n: job.args.n };
    }
  }

  backoff(job: Job<{ bad: Bad; n?: number }>) {
    return job.args.bad === 'huge-backoff' ? 1e300 : 0;
  }
}

describe('faults: one bad outcome never blocks the others', () => {
  const schema = new TestSchema('faults_outcomes');
  let app: INestApplicationContext;
  let oban: Oban;

  before(async () => {
    app = await createApp({
      oban: {
        connection: DATABASE_URL,
        prefix: schema.prefix,
        migrate: true,
        queues: { outcomes: 5 },
        maxResultBytes: 1_000,
      },
      providers: [AwkwardWorker],
      logger: [],
    });
    oban = app.get(Oban);
  });
  after(async () => {
    await app?.close();
    await schema.drop();
  });

  const stateOf = async (id: number) => (await oban.getJob(id))?.state;

  it('a \\u0000 in an error and a lone surrogate in a result are recorded, and ten normal jobs after them complete', async () => {
    const nul = await oban.insert(AwkwardWorker, { bad: 'nul-error' });
    const surrogate = await oban.insert(AwkwardWorker, { bad: 'surrogate-result' });
    const nulResult = await oban.insert(AwkwardWorker, { bad: 'nul-result' });
    const normal = await oban.insertAll(
      Array.from({ length: 10 }, (_, n) => ({ worker: AwkwardWorker, args: { bad: 'ok' as Bad, n } })),
    );
    for (const job of normal) {
      await waitFor(`normal job ${job.id} to complete`, async () => (await stateOf(job.id)) === 'completed', {
        timeout: 5_000,
      });
    }
    // The error text is made storable: the NUL becomes U+FFFD, the rest is kept.
    const failed = await waitFor('the NUL error to be recorded', async () => {
      const job = await oban.getJob(nul.id);
      return job && job.errors.length > 0 ? job : null;
    });
    assert.match(failed.errors[0].error, /^Error: a\uFFFDb/);
    // A result the database cannot store fails its attempt, naming the path and the character; with no
    // backoff the retry runs at once and fails the same way, so the job ends discarded, never executing.
    for (const job of [surrogate, nulResult]) {
      const recorded = await waitFor(`job ${job.id} to end discarded, saying why its result was refused`, async () => {
        const row = await oban.getJob(job.id);
        return row?.state === 'discarded' ? row : null;
      });
      assert.equal(recorded.errors.length, 2);
      assert.match(recorded.errors[0].error, /ResultNotJsonError: AwkwardWorker\.perform returned a value/);
      assert.match(recorded.errors[0].error, /result(\.text)? holds (a \\u0000|a lone surrogate)/);
    }
  });

  it('a snooze or backoff too large for a timestamp fails the attempt with a reason, never blocking the others', async () => {
    const huge = await oban.insert(AwkwardWorker, { bad: 'huge-snooze' });
    const backoff = await oban.insert(AwkwardWorker, { bad: 'huge-backoff' });
    const ok = await oban.insert(AwkwardWorker, { bad: 'ok', n: 1 });
    await waitFor('the normal job to complete', async () => (await stateOf(ok.id)) === 'completed', { timeout: 5_000 });
    const snoozed = await waitFor('the huge snooze to be recorded', async () => {
      const job = await oban.getJob(huge.id);
      return job && job.state !== 'executing' ? job : null;
    });
    assert.match(snoozed.errors.at(-1)!.error, /snooze\(1e\+300\) is longer than/);
    const retried = await waitFor('the huge backoff to be recorded', async () => {
      const job = await oban.getJob(backoff.id);
      return job && job.state !== 'executing' ? job : null;
    });
    // A backoff out of range falls back to the default: the job is retryable within hours, not never.
    assert.equal(retried.state, 'retryable');
    assert.ok(retried.scheduledAt.getTime() < Date.now() + 24 * 3600_000);
  });

  it('a result over maxResultBytes fails its attempt with an error naming the limit', async () => {
    const big = await oban.insert(AwkwardWorker, { bad: 'big-result' });
    const job = await waitFor('the big result to be refused', async () => {
      const row = await oban.getJob(big.id);
      return row && row.errors.length > 0 ? row : null;
    });
    assert.match(
      job.errors[0].error,
      /ResultTooLargeError: AwkwardWorker\.perform returned 2002 bytes of JSON, over maxResultBytes \(1000\)/,
    );
    assert.equal(job.result, null);
  });

  it('a batch the database still refuses is split: every other outcome is written, the refused one recorded as failed', async () => {
    // What no check in nest-oban can know: the app's own constraint on the table.
    await schema.query(
      `ALTER TABLE ${schema.jobs} ADD CONSTRAINT no_poison CHECK (result IS DISTINCT FROM '"poison"'::jsonb)`,
    );
    try {
      const jobs = await oban.insertAll([
        ...Array.from({ length: 6 }, (_, n) => ({ worker: AwkwardWorker, args: { bad: 'ok' as Bad, n } })),
        { worker: AwkwardWorker, args: { bad: 'poison' as Bad } },
        ...Array.from({ length: 6 }, (_, n) => ({ worker: AwkwardWorker, args: { bad: 'ok' as Bad, n: n + 6 } })),
      ]);
      const poison = jobs[6];
      for (const job of jobs.filter((j) => j !== poison)) {
        await waitFor(`job ${job.id} to complete`, async () => (await stateOf(job.id)) === 'completed', {
          timeout: 5_000,
        });
      }
      const refused = await waitFor('the refused outcome to be recorded', async () => {
        const job = await oban.getJob(poison.id);
        return job && job.state !== 'executing' ? job : null;
      });
      // Retried a minute later, whatever the worker's backoff: the state holds while the test reads it.
      assert.equal(refused.state, 'retryable');
      assert.match(
        refused.errors[0].error,
        /OutcomeNotStorableError: the database refused to record its outcome \(completed\): .*no_poison/,
      );
    } finally {
      await schema.query(`ALTER TABLE ${schema.jobs} DROP CONSTRAINT no_poison`);
    }
  });
});
