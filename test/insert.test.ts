import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { INestApplicationContext } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Oban, ObanValidationError, Worker, type Job } from '../lib';
import { createApp } from './support/app';
import { DATABASE_URL, TestSchema } from './support/db';
import { sleep, waitFor } from './support/wait';

@Worker({ queue: 'mail', maxAttempts: 3 })
class MailWorker {
  perform(job: Job<{ to: string }>) {
    return { sentTo: job.args.to };
  }
}

/** Declared on a queue no node runs: its jobs wait. */
@Worker({ queue: 'later' })
class LaterWorker {
  perform() {}
}

describe('insert', () => {
  const schema = new TestSchema('insert');
  let app: INestApplicationContext;
  let oban: Oban;
  let dataSource: DataSource;

  before(async () => {
    dataSource = await new DataSource({ type: 'postgres', url: DATABASE_URL }).initialize();
    await dataSource.query(`CREATE TABLE "${schema.prefix}_users" (id serial PRIMARY KEY, email text UNIQUE NOT NULL)`);
    app = await createApp({
      oban: { connection: dataSource, prefix: schema.prefix, migrate: true, queues: { mail: 5 } },
      providers: [MailWorker, LaterWorker],
    });
    oban = app.get(Oban);
  });
  after(async () => {
    await app?.close();
    await dataSource.query(`DROP TABLE IF EXISTS "${schema.prefix}_users"`);
    await dataSource.destroy();
    await schema.drop();
  });

  it('stores args, options and defaults and returns the stored Job', async () => {
    const at = new Date(Date.now() + 3_600_000);
    const job = await oban.insert(
      LaterWorker,
      { a: 1, nested: { list: [1, 'x', null] } },
      {
        priority: 3,
        tags: ['one', ' two ', 'one'],
        meta: { source: 'test' },
        scheduledAt: at,
        maxAttempts: 7,
      },
    );
    assert.equal(job.state, 'scheduled');
    assert.equal(job.queue, 'later');
    assert.equal(job.worker, 'LaterWorker');
    assert.deepEqual(job.args, { a: 1, nested: { list: [1, 'x', null] } });
    assert.deepEqual(job.tags, ['one', 'two']);
    assert.deepEqual(job.meta, { source: 'test' });
    assert.equal(job.priority, 3);
    assert.equal(job.maxAttempts, 7);
    assert.equal(job.attempt, 0);
    assert.equal(job.scheduledAt.getTime(), at.getTime());
    assert.deepEqual(await oban.getJob(job.id), job);
  });

  it('scheduleIn is counted on the database clock', async () => {
    const job = await oban.insert(LaterWorker, {}, { scheduleIn: 120 });
    const [{ delta }] = await schema.query(
      `SELECT extract(epoch FROM scheduled_at - inserted_at)::float AS delta FROM ${schema.jobs} WHERE id = $1`,
      [job.id],
    );
    assert.ok(Math.abs(delta - 120) < 1, `scheduled ${delta}s after insert`);
    assert.equal(job.state, 'scheduled');
  });

  it('insertAll stores many in one statement and returns them in input order', async () => {
    const entries = Array.from({ length: 10_000 }, (_, i) => ({ worker: LaterWorker, args: { i }, priority: i % 10 }));
    const jobs = await oban.insertAll(entries);
    assert.equal(jobs.length, 10_000);
    jobs.forEach((job, i) => {
      assert.equal(job.args.i, i);
      assert.equal(job.priority, i % 10);
    });
    assert.equal(await schema.count(`worker = 'LaterWorker' AND (args->>'i') IS NOT NULL`), 10_000);
    await schema.query(`DELETE FROM ${schema.jobs} WHERE worker = 'LaterWorker'`);
  });

  it('a job inserted in a transaction that rolls back never exists and never runs; one that commits runs', async () => {
    const before = await schema.count();
    await assert.rejects(
      dataSource.transaction(async (manager) => {
        await manager.query(`INSERT INTO "${schema.prefix}_users" (email) VALUES ('rolled@back')`);
        const job = await oban.insert(MailWorker, { to: 'rolled@back' }, { manager });
        assert.ok(job.id > 0, 'the job is visible inside the transaction');
        throw new Error('abort the signup');
      }),
      /abort the signup/,
    );
    await sleep(300);
    assert.equal(await schema.count(), before, 'the rolled-back job is nowhere');

    const committed = await dataSource.transaction(async (manager) => {
      await manager.query(`INSERT INTO "${schema.prefix}_users" (email) VALUES ('kept@commit')`);
      return oban.insert(MailWorker, { to: 'kept@commit' }, { manager });
    });
    const done = await waitFor('the committed job to run', async () => {
      const job = await oban.getJob(committed.id);
      return job?.state === 'completed' && job;
    });
    assert.deepEqual(done.result, { sentTo: 'kept@commit' });
    assert.equal(await schema.count(`args->>'to' = 'rolled@back'`), 0);
  });

  it('insertAll joins a transaction too', async () => {
    await assert.rejects(
      dataSource.transaction(async (manager) => {
        await oban.insertAll(
          [
            { worker: LaterWorker, args: { tx: 1 } },
            { worker: LaterWorker, args: { tx: 2 } },
          ],
          { manager },
        );
        throw new Error('rollback');
      }),
    );
    assert.equal(await schema.count(`args ? 'tx'`), 0);
  });

  describe('bad input throws a clear error and writes nothing', () => {
    const cases: Array<[string, () => Promise<unknown>, RegExp]> = [
      [
        'a BigInt',
        () => oban.insert(LaterWorker, { id: 10n } as any),
        /insert\(LaterWorker\): args.id is a BigInt \(10n\)/,
      ],
      [
        'a cycle',
        () => {
          const a: any = { name: 'a' };
          a.self = { back: a };
          return oban.insert(LaterWorker, a);
        },
        /args.self.back refers back to itself \(a cycle\)/,
      ],
      ['a function', () => oban.insert(LaterWorker, { fn: () => 1 } as any), /args.fn is a function/],
      ['a Map', () => oban.insert(LaterWorker, { m: new Map() } as any), /args.m is a Map, which JSON turns into \{\}/],
      ['NaN', () => oban.insert(LaterWorker, { list: [1, NaN] } as any), /args.list\[1\] is NaN/],
      [
        'args that are not an object',
        () => oban.insert(LaterWorker, [1, 2] as any),
        /args must be a plain object.*got an array/,
      ],
      [
        'priority out of range',
        () => oban.insert(LaterWorker, {}, { priority: 10 }),
        /priority must be an integer from 0 \(highest\) to 9, got 10/,
      ],
      [
        'max attempts 0',
        () => oban.insert(LaterWorker, {}, { maxAttempts: 0 }),
        /maxAttempts must be an integer >= 1, got 0/,
      ],
      [
        'an unknown worker class',
        () => oban.insert(class NotAWorker {} as any, {}),
        /NotAWorker is not a worker; decorate the class with @Worker\(\)/,
      ],
      [
        'an unknown worker name',
        () => oban.insert('NoSuchWorker', {}),
        /unknown worker 'NoSuchWorker'.*pass \{ queue \}/,
      ],
      [
        'an invalid queue name',
        () => oban.insert(LaterWorker, {}, { queue: 'no where' }),
        /queue name "no where" is invalid/,
      ],
      [
        'scheduledAt and scheduleIn',
        () => oban.insert(LaterWorker, {}, { scheduleIn: 1, scheduledAt: new Date() }),
        /not both/,
      ],
      [
        'a bad date',
        () => oban.insert(LaterWorker, {}, { scheduledAt: new Date('nope') }),
        /scheduledAt must be a valid Date/,
      ],
      ['a misspelt option', () => oban.insert(LaterWorker, {}, { prio: 1 } as any), /unknown option 'prio'/],
      [
        'one bad entry in insertAll',
        () =>
          oban.insertAll([
            { worker: LaterWorker, args: {} },
            { worker: LaterWorker, args: { x: 1n } as any },
          ]),
        /insertAll\[1\] \(LaterWorker\): args.x is a BigInt/,
      ],
    ];
    for (const [label, call, message] of cases) {
      it(label, async () => {
        const before = await schema.count();
        await assert.rejects(call(), (error: Error) => {
          assert.ok(error instanceof ObanValidationError, `expected ObanValidationError, got ${error}`);
          assert.match(error.message, message);
          return true;
        });
        assert.equal(await schema.count(), before);
      });
    }
  });

  it('a worker name unknown here is accepted with a queue some node runs', async () => {
    const job = await oban.insert('RemoteWorker', { x: 1 }, { queue: 'later' });
    assert.equal(job.worker, 'RemoteWorker');
    assert.equal(job.queue, 'later');
  });
});
