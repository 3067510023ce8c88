import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AssertionError } from 'node:assert';
import { type INestApplicationContext, Injectable, Module } from '@nestjs/common';
import { type Job, Oban, ObanConfigError, ObanError, Worker, cancel, snooze } from '../lib';
import { allEnqueued, assertEnqueued, drainQueue, refuteEnqueued } from '../lib/testing';
import { createApp } from './support/app';
import { DATABASE_URL, TestSchema } from './support/db';
import { sleep } from './support/wait';

/** What the workers did, in order. */
@Injectable()
class Journal {
  entries: string[] = [];
}

@Worker({ queue: 'mail' })
class MailWorker {
  constructor(private readonly journal: Journal) {}
  perform(job: Job<{ to: string; mode?: string }>) {
    this.journal.entries.push(`mail:${job.args.to}`);
    switch (job.args.mode) {
      case 'fail':
        throw new Error(`smtp down for ${job.args.to}`);
      case 'snooze':
        return snooze(60);
      case 'cancel':
        return cancel('unsubscribed');
    }
    return { sent: job.args.to };
  }
}

@Worker({ queue: 'mail', maxAttempts: 1 })
class OneShotWorker {
  perform(): never {
    throw new TypeError('no second chance');
  }
}

/** Inserts a follow-up job, to show withRecursion. */
@Worker({ queue: 'mail' })
class ChainWorker {
  constructor(private readonly oban: Oban) {}
  async perform(job: Job<{ left: number }>) {
    if (job.args.left > 0) await this.oban.insert(ChainWorker, { left: job.args.left - 1 });
    return { left: job.args.left };
  }
}

@Module({ providers: [Journal, MailWorker, OneShotWorker, ChainWorker] })
class MailModule {}

describe("testing: 'manual' with drainQueue and the enqueued assertions", () => {
  const schema = new TestSchema('testing_manual');
  let app: INestApplicationContext;
  let oban: Oban;
  let journal: Journal;
  before(async () => {
    app = await createApp({
      oban: { connection: DATABASE_URL, prefix: schema.prefix, migrate: true, queues: { mail: 5 }, testing: 'manual' },
      imports: [MailModule],
    });
    oban = app.get(Oban);
    journal = app.get(Journal);
  });
  beforeEach(async () => {
    journal.entries = [];
    await schema.query(`DELETE FROM ${schema.jobs}`);
  });
  after(async () => {
    await app?.close();
    await schema.drop();
  });

  it('stores jobs without running them', async () => {
    const job = await oban.insert(MailWorker, { to: 'ada' });
    await sleep(300); // several stage intervals of the test app (100 ms)
    assert.equal((await oban.getJob(job.id))?.state, 'available');
    assert.deepEqual(journal.entries, []);
  });

  it('assertEnqueued matches on worker, queue and a part of args, and returns the job', async () => {
    const inserted = await oban.insert(MailWorker, { to: 'ada', lang: 'en' } as any, { tags: ['welcome'] });
    const found = await assertEnqueued(app, { worker: MailWorker, queue: 'mail', args: { to: 'ada' } });
    assert.equal(found.id, inserted.id);
    await assertEnqueued(oban, { worker: 'MailWorker', tags: ['welcome'] }); // by name, through the service
    assert.equal((await allEnqueued(app, { args: { lang: 'en' } })).length, 1);
    assert.equal((await allEnqueued(app, { args: { lang: 'fr' } })).length, 0);
  });

  it('assertEnqueued fails with a message listing what is enqueued', async () => {
    await oban.insert(MailWorker, { to: 'grace' });
    await assert.rejects(assertEnqueued(app, { worker: MailWorker, args: { to: 'ada' } }), (error: unknown) => {
      assert.ok(error instanceof AssertionError);
      assert.match(error.message, /Expected a job matching \{ worker: MailWorker, args: \{"to":"ada"\} \}/);
      assert.match(
        error.message,
        /Enqueued now \(1\):\n  #\d+ MailWorker queue=mail state=available .*args=\{"to":"grace"\}/,
      );
      return true;
    });
  });

  it('assertEnqueued with a timeout waits for a job enqueued later', async () => {
    setTimeout(() => void oban.insert(MailWorker, { to: 'late' }), 150);
    const job = await assertEnqueued(app, { args: { to: 'late' } }, { timeout: 3_000 });
    assert.equal(job.worker, 'MailWorker');
  });

  it('refuteEnqueued passes when nothing matches and fails listing the matches', async () => {
    await refuteEnqueued(app, { worker: MailWorker });
    await oban.insert(MailWorker, { to: 'ada' }, { scheduleIn: 3600 });
    await assert.rejects(refuteEnqueued(app, { worker: MailWorker }), (error: unknown) => {
      assert.ok(error instanceof AssertionError);
      assert.match(error.message, /Expected no job matching \{ worker: MailWorker \}/);
      assert.match(error.message, /state=scheduled/);
      return true;
    });
  });

  it('drainQueue runs the available jobs in queue order and records every outcome', async () => {
    const ok = await oban.insert(MailWorker, { to: 'b' }, { priority: 5 });
    const first = await oban.insert(MailWorker, { to: 'a' }, { priority: 0 });
    const failing = await oban.insert(MailWorker, { to: 'c', mode: 'fail' }, { priority: 5 });
    const snoozing = await oban.insert(MailWorker, { to: 'd', mode: 'snooze' }, { priority: 5 });
    const cancelling = await oban.insert(MailWorker, { to: 'e', mode: 'cancel' }, { priority: 5 });
    const oneShot = await oban.insert(OneShotWorker, {});
    const later = await oban.insert(MailWorker, { to: 'later' }, { scheduleIn: 3600 });

    const result = await drainQueue(app, { queue: 'mail' });

    assert.deepEqual(result, { completed: 2, retryable: 1, discarded: 1, cancelled: 1, snoozed: 1 });
    assert.deepEqual(journal.entries, ['mail:a', 'mail:b', 'mail:c', 'mail:d', 'mail:e']);
    const state = async (job: Job<any, any>) => (await oban.getJob(job.id))!;
    assert.deepEqual((await state(ok)).result, { sent: 'b' });
    assert.equal((await state(first)).state, 'completed');
    const failed = await state(failing);
    assert.equal(failed.state, 'retryable');
    assert.match(failed.errors[0].error, /Error: smtp down for c/);
    assert.equal((await state(snoozing)).state, 'scheduled');
    assert.equal((await state(cancelling)).state, 'cancelled');
    assert.match((await state(oneShot)).errors[0].error, /TypeError: no second chance/);
    assert.equal((await state(later)).state, 'scheduled');
  });

  it('drainQueue withScheduled also runs scheduled and retryable jobs', async () => {
    await oban.insert(MailWorker, { to: 'later' }, { scheduleIn: 3600 });
    assert.deepEqual(await drainQueue(app, { queue: 'mail' }), {
      completed: 0,
      retryable: 0,
      discarded: 0,
      cancelled: 0,
      snoozed: 0,
    });
    assert.equal((await drainQueue(app, { queue: 'mail', withScheduled: true })).completed, 1);
    assert.deepEqual(journal.entries, ['mail:later']);
  });

  it('drainQueue withScheduled as a Date runs only the jobs due by then', async () => {
    await oban.insert(MailWorker, { to: 'soon' }, { scheduleIn: 60 });
    await oban.insert(MailWorker, { to: 'tomorrow' }, { scheduleIn: 86_400 });
    const inAnHour = new Date(Date.now() + 3_600_000);
    assert.equal((await drainQueue(app, { queue: 'mail', withScheduled: inAnHour })).completed, 1);
    assert.deepEqual(journal.entries, ['mail:soon']);
  });

  it('drainQueue withRecursion runs the jobs that jobs insert', async () => {
    await oban.insert(ChainWorker, { left: 3 });
    assert.equal((await drainQueue(app, { queue: 'mail' })).completed, 1);
    await assertEnqueued(app, { worker: ChainWorker, args: { left: 2 } });
    assert.equal((await drainQueue(app, { queue: 'mail', withRecursion: true })).completed, 3);
    await refuteEnqueued(app, { worker: ChainWorker });
  });

  it('drainQueue withSafety: false throws the error perform threw, after recording it', async () => {
    const job = await oban.insert(MailWorker, { to: 'x', mode: 'fail' });
    await assert.rejects(drainQueue(app, { queue: 'mail', withSafety: false }), /smtp down for x/);
    assert.equal((await oban.getJob(job.id))?.state, 'retryable');
  });

  it('drainQueue rejects a missing queue with what to pass', async () => {
    await assert.rejects(drainQueue(app, {} as any), /drainQueue: give the queue to drain/);
  });
});

describe("testing: 'inline'", () => {
  let app: INestApplicationContext;
  let oban: Oban;
  let journal: Journal;
  before(async () => {
    app = await createApp({ oban: { queues: { mail: 5 }, testing: 'inline' }, imports: [MailModule] });
    oban = app.get(Oban);
    journal = app.get(Journal);
  });
  beforeEach(() => (journal.entries = []));
  after(async () => {
    await app?.close();
  });

  it('runs the job inside insert and returns it finished, without a database', async () => {
    const job = await oban.insert(MailWorker, { to: 'ada' });
    assert.deepEqual(journal.entries, ['mail:ada']);
    assert.equal(job.state, 'completed');
    assert.deepEqual(job.result, { sent: 'ada' });
    assert.equal(job.attempt, 1);
    assert.ok(job.completedAt instanceof Date);
    assert.ok(job.id < 0, 'inline jobs are never stored, so their ids are not row ids');
  });

  it('returns a failed job as retryable with its error, a snoozed one scheduled, a cancelled one cancelled', async () => {
    const failed = await oban.insert(MailWorker, { to: 'x', mode: 'fail' });
    assert.equal(failed.state, 'retryable');
    assert.match(failed.errors[0].error, /smtp down for x/);
    assert.ok(failed.scheduledAt.getTime() > Date.now());
    const snoozed = await oban.insert(MailWorker, { to: 'y', mode: 'snooze' });
    assert.equal(snoozed.state, 'scheduled');
    assert.equal(snoozed.attempt, 0);
    assert.equal(snoozed.meta.snoozed, 1);
    assert.equal((await oban.insert(MailWorker, { to: 'z', mode: 'cancel' })).state, 'cancelled');
    assert.equal((await oban.insert(OneShotWorker, {})).state, 'discarded');
  });

  it('runs a job scheduled for later at once, and insertAll runs jobs in order', async () => {
    assert.equal((await oban.insert(MailWorker, { to: 'later' }, { scheduleIn: 3600 })).state, 'completed');
    const jobs = await oban.insertAll([
      { worker: MailWorker, args: { to: '1' } },
      { worker: MailWorker, args: { to: '2' } },
    ]);
    assert.deepEqual(
      jobs.map((j) => j.state),
      ['completed', 'completed'],
    );
    assert.deepEqual(journal.entries, ['mail:later', 'mail:1', 'mail:2']);
  });

  it('passes args to perform as JSON would return them', async () => {
    const job = await oban.insert(MailWorker, { to: new Date(0) as unknown as string });
    assert.deepEqual(job.args, { to: '1970-01-01T00:00:00.000Z' });
    assert.deepEqual(journal.entries, ['mail:1970-01-01T00:00:00.000Z']);
  });

  it('still validates input as a real insert does', async () => {
    await assert.rejects(oban.insert(MailWorker, { to: 1n } as any), /args\.to is a BigInt/);
  });

  it('says why calls that need a database fail when none was given', async () => {
    await assert.rejects(oban.getJob(1), (error: unknown) => {
      assert.ok(error instanceof ObanError);
      assert.match(error.message, /testing: 'inline' without a `connection` opens no database/);
      return true;
    });
    await assert.rejects(allEnqueued(app, { worker: MailWorker }), /testing is 'inline', so jobs run when inserted/);
  });
});

describe("testing: 'inline' with a connection", () => {
  const schema = new TestSchema('testing_inline');
  let app: INestApplicationContext;
  after(async () => {
    await app?.close();
    await schema.drop();
  });

  it('never writes the job to the database', async () => {
    app = await createApp({
      oban: { connection: DATABASE_URL, prefix: schema.prefix, migrate: true, queues: { mail: 5 }, testing: 'inline' },
      imports: [MailModule],
    });
    const job = await app.get(Oban).insert(MailWorker, { to: 'ada' });
    assert.equal(job.state, 'completed');
    assert.equal(await schema.count(), 0);
  });
});

describe('testing option', () => {
  it('rejects an unknown mode, naming the valid ones', async () => {
    await assert.rejects(
      createApp({ oban: { connection: DATABASE_URL, testing: 'sometimes' as any } }),
      (error: unknown) => {
        assert.ok(error instanceof ObanConfigError);
        assert.match(error.message, /testing must be one of 'disabled', 'inline', 'manual', got 'sometimes'/);
        return true;
      },
    );
  });
});
