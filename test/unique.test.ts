import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { INestApplicationContext } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { JOB_STATES, Oban, ObanConfigError, ObanError, ObanValidationError, Worker, snooze, type Job } from '../lib';
import { drainQueue } from '../lib/testing';
import { OBAN_INTERNALS } from '../lib/oban.tokens';
import type { ObanInternals } from '../lib/oban.service';
import type { ClusterStore } from '../lib/store/cluster-store';
import { createApp } from './support/app';
import { uniqueInsertWaiting } from './support/backends';
import { DATABASE_URL, TestSchema } from './support/db';
import { waitFor } from './support/wait';
import { UNIQUE_STATE_GROUPS, resolveUnique, uniqueBase, uniqueKey } from '../lib/validation/unique-options';

/** Unique with every default: worker, queue and args, 60 s buckets, successful states. */
@Worker({ queue: 'mail', unique: true })
class MailWorker {
  perform() {
    return 'sent';
  }
}

/** Runs as `args.plan` says, one step per run: 'fail', 'snooze', anything else completes. */
const runs = new Map<string, number>();
@Worker({ queue: 'steps', maxAttempts: 5, unique: { period: Infinity, states: 'incomplete', keys: ['id'] } })
class StepWorker {
  perform(job: Job<{ id: string; plan: string[] }>) {
    const n = runs.get(job.args.id) ?? 0;
    runs.set(job.args.id, n + 1);
    const step = job.args.plan[n];
    if (step === 'fail') throw new Error(`step ${n} fails`);
    if (step === 'snooze') return snooze(60);
    return step;
  }
}

/** Not unique itself: each test passes its own `unique`. */
@Worker({ queue: 'plain' })
class PlainWorker {
  perform(_job: Job<Record<string, any>>) {}
}

describe('unique jobs', () => {
  const schema = new TestSchema('unique');
  let app: INestApplicationContext;
  let oban: Oban;
  let dataSource: DataSource;
  let internals: ObanInternals;
  let cluster: ClusterStore;

  before(async () => {
    dataSource = await new DataSource({ type: 'postgres', url: DATABASE_URL }).initialize();
    app = await createApp({
      oban: { connection: dataSource, prefix: schema.prefix, migrate: true, queues: {}, testing: 'manual' },
      providers: [MailWorker, StepWorker, PlainWorker],
    });
    oban = app.get(Oban);
    internals = oban[OBAN_INTERNALS]();
    cluster = internals.cluster;
  });
  after(async () => {
    await app?.close();
    await dataSource?.destroy();
    await schema.drop();
  });

  const rows = (where: string, params: unknown[] = []) =>
    schema.query(`SELECT * FROM ${schema.jobs} WHERE ${where} ORDER BY id`, params);
  const setState = (id: number, state: string) =>
    schema.query(
      `UPDATE ${schema.jobs} SET state = $2, completed_at = now(), discarded_at = now(),
                  cancelled_at = now() WHERE id = $1`,
      [id, state],
    );

  it('@Worker({ unique: true }): the same worker, queue and args conflict; the stored job comes back marked', async () => {
    const first = await oban.insert(MailWorker, { to: 'ada', cc: ['x'] });
    assert.equal(first.conflict, false);
    const again = await oban.insert(MailWorker, { cc: ['x'], to: 'ada' }); // key order does not matter
    assert.equal(again.conflict, true);
    assert.equal(again.id, first.id);
    assert.deepEqual({ ...again, conflict: undefined }, { ...(await oban.getJob(first.id))!, conflict: undefined });
    assert.equal((await oban.insert(MailWorker, { to: 'bob', cc: ['x'] })).conflict, false, 'other args');
    assert.equal(
      (await oban.insert(MailWorker, { to: 'ada', cc: ['x'] }, { queue: 'mail2' })).conflict,
      false,
      'other queue',
    );
    assert.equal((await oban.insert(MailWorker, { to: 'ada', cc: ['x'] }, { unique: false })).conflict, undefined);
    assert.equal(await schema.count(`args->>'to' = 'ada'`), 3);
    const plain = await oban.insert(PlainWorker, { to: 'ada' });
    assert.equal('conflict' in plain, false, 'a job without unique carries no conflict flag');
  });

  it('fields: only the named fields count (worker alone, or meta)', async () => {
    const unique = { fields: ['worker' as const], period: Infinity };
    const a = await oban.insert(PlainWorker, { n: 1 }, { unique });
    const b = await oban.insert(PlainWorker, { n: 2 }, { unique, queue: 'elsewhere' });
    assert.equal(b.conflict, true);
    assert.equal(b.id, a.id);

    const byMeta = { fields: ['worker' as const, 'meta' as const] };
    const m1 = await oban.insert(PlainWorker, { n: 1 }, { unique: byMeta, meta: { tenant: 't1' } });
    assert.equal((await oban.insert(PlainWorker, { n: 2 }, { unique: byMeta, meta: { tenant: 't1' } })).id, m1.id);
    assert.equal(
      (await oban.insert(PlainWorker, { n: 1 }, { unique: byMeta, meta: { tenant: 't2' } })).conflict,
      false,
    );
  });

  it('keys: only these keys of args (and meta) count; a missing key differs from any value', async () => {
    const unique = { keys: ['account'], fields: ['worker' as const, 'args' as const, 'meta' as const] };
    const a = await oban.insert(PlainWorker, { account: 7, page: 1 }, { unique, meta: { account: 'x', trace: 1 } });
    const b = await oban.insert(PlainWorker, { account: 7, page: 2 }, { unique, meta: { account: 'x', trace: 2 } });
    assert.deepEqual([b.conflict, b.id], [true, a.id]);
    assert.equal((await oban.insert(PlainWorker, { account: 8 }, { unique, meta: { account: 'x' } })).conflict, false);
    assert.equal((await oban.insert(PlainWorker, { account: 7 }, { unique, meta: { account: 'y' } })).conflict, false);
    const none = await oban.insert(PlainWorker, { page: 1 }, { unique });
    assert.equal((await oban.insert(PlainWorker, { account: null }, { unique })).conflict, false);
    assert.equal((await oban.insert(PlainWorker, { page: 9 }, { unique })).id, none.id);
    // Different unique options never conflict, even over equal values.
    assert.equal(
      (await oban.insert(PlainWorker, { account: 7, page: 1 }, { unique: { ...unique, keys: ['account', 'page'] } }))
        .conflict,
      false,
    );
  });

  it('period: jobs conflict within one epoch-aligned bucket of the insert time; Infinity never expires', async () => {
    const dbSecond = async () => Number((await schema.query(`SELECT floor(extract(epoch FROM now())) AS s`))[0].s);
    const byPeriod = async (period: number) => {
      const args = { period: String(period) };
      // Two inserts in one transaction share now(): surely one bucket.
      const [a, b] = await dataSource.transaction(async (manager) => [
        await oban.insert(PlainWorker, args, { unique: { period }, manager }),
        await oban.insert(PlainWorker, args, { unique: { period }, manager }),
      ]);
      const second = Math.floor(a.insertedAt.getTime() / 1000);
      await waitFor('the next second on the database clock', async () => (await dbSecond()) > second, {
        timeout: 3000,
      });
      const c = await oban.insert(PlainWorker, args, { unique: { period } });
      return { a, b, c };
    };
    const finite = await byPeriod(1);
    assert.deepEqual([finite.b.conflict, finite.b.id], [true, finite.a.id]);
    assert.equal(finite.c.conflict, false, 'the next 1 s bucket is a new job');
    const forever = await byPeriod(Infinity);
    assert.deepEqual([forever.c.conflict, forever.c.id], [true, forever.a.id]);
  });

  it("timestamp 'scheduledAt': the bucket is that of the scheduled time", async () => {
    const unique = { period: 3600, timestamp: 'scheduledAt' as const };
    const hour = Math.ceil(Date.now() / 3_600_000 + 1) * 3_600_000; // a bucket boundary in the future
    const a = await oban.insert(PlainWorker, { t: 1 }, { unique, scheduledAt: new Date(hour + 10_000) });
    const b = await oban.insert(PlainWorker, { t: 1 }, { unique, scheduledAt: new Date(hour + 3_500_000) });
    const c = await oban.insert(PlainWorker, { t: 1 }, { unique, scheduledAt: new Date(hour + 3_600_000) });
    const d = await oban.insert(PlainWorker, { t: 1 }, { unique, scheduledAt: new Date(hour - 1000) });
    assert.deepEqual([b.conflict, b.id], [true, a.id]);
    assert.equal(c.conflict, false, 'the next hour');
    assert.equal(d.conflict, false, 'the hour before');
  });

  it("states: 'incomplete' frees the key when a job finishes; 'successful' keeps it through completed only", async () => {
    const incomplete = { states: 'incomplete' as const, period: Infinity };
    const a = await oban.insert(PlainWorker, { s: 'inc' }, { unique: incomplete });
    await setState(a.id, 'completed');
    const b = await oban.insert(PlainWorker, { s: 'inc' }, { unique: incomplete });
    assert.equal(b.conflict, false);
    assert.notEqual(b.id, a.id);

    const successful = { states: 'successful' as const, period: Infinity };
    const c = await oban.insert(PlainWorker, { s: 'suc' }, { unique: successful });
    await setState(c.id, 'completed');
    const d = await oban.insert(PlainWorker, { s: 'suc' }, { unique: successful });
    assert.deepEqual([d.conflict, d.id, d.state], [true, c.id, 'completed']);
    await setState(c.id, 'discarded');
    assert.equal((await oban.insert(PlainWorker, { s: 'suc' }, { unique: successful })).conflict, false);
  });

  it("states: 'all' and explicit lists count exactly what they name", async () => {
    const all = { states: 'all' as const, period: Infinity };
    const a = await oban.insert(PlainWorker, { s: 'all' }, { unique: all });
    await oban.cancelJob(a.id);
    assert.deepEqual(
      [(await oban.insert(PlainWorker, { s: 'all' }, { unique: all })).id],
      [a.id],
      'a cancelled job counts under all',
    );
    const list = {
      states: [...UNIQUE_STATE_GROUPS.incomplete, 'cancelled'] as Job['state'][],
      period: Infinity,
    };
    const b = await oban.insert(PlainWorker, { s: 'list' }, { unique: list });
    await oban.cancelJob(b.id);
    assert.equal((await oban.insert(PlainWorker, { s: 'list' }, { unique: list })).id, b.id);
    const c = await oban.insert(PlainWorker, { s: 'list2' }, { unique: list });
    await setState(c.id, 'completed');
    assert.equal((await oban.insert(PlainWorker, { s: 'list2' }, { unique: list })).conflict, false);
  });

  it('replace: a conflicting insert overwrites the listed fields, per state of the stored job', async () => {
    const unique = {
      keys: ['user'],
      period: Infinity,
      replace: { scheduled: ['args' as const, 'scheduledAt' as const, 'priority' as const, 'tags' as const] },
    };
    const later = new Date(Date.now() + 3_600_000);
    const a = await oban.insert(PlainWorker, { user: 1, text: 'v1' }, { unique, scheduledAt: later });
    const evenLater = new Date(Date.now() + 7_200_000);
    const b = await oban.insert(
      PlainWorker,
      { user: 1, text: 'v2' },
      { unique, scheduledAt: evenLater, priority: 4, tags: ['debounced'] },
    );
    assert.equal(b.conflict, true);
    assert.equal(b.id, a.id);
    assert.deepEqual(b.args, { user: 1, text: 'v2' });
    assert.equal(b.scheduledAt.getTime(), evenLater.getTime());
    assert.deepEqual([b.priority, b.tags, b.state], [4, ['debounced'], 'scheduled']);
    assert.deepEqual({ ...b, conflict: undefined }, { ...(await oban.getJob(a.id))!, conflict: undefined });

    // Replacing scheduledAt with now makes it available; an available job is then not replaced.
    const c = await oban.insert(PlainWorker, { user: 1, text: 'v3' }, { unique });
    assert.deepEqual([c.id, c.state, c.args.text], [a.id, 'available', 'v3']);
    const d = await oban.insert(PlainWorker, { user: 1, text: 'v4' }, { unique });
    assert.deepEqual([d.id, d.conflict, d.args.text], [a.id, true, 'v3']);

    // The README's debounce: an available job is pushed back, and scheduled again.
    const debounced = ['args', 'scheduledAt'] as const;
    const debounce = {
      keys: ['doc'],
      period: Infinity,
      states: 'incomplete' as const,
      replace: { scheduled: [...debounced], available: [...debounced] },
    };
    const g = await oban.insert(PlainWorker, { doc: 1, rev: 1 }, { unique: debounce });
    assert.equal(g.state, 'available');
    const h = await oban.insert(PlainWorker, { doc: 1, rev: 2 }, { unique: debounce, scheduleIn: 30 });
    assert.deepEqual([h.id, h.conflict, h.state, h.args.rev], [g.id, true, 'scheduled', 2]);
    assert.ok(h.scheduledAt.getTime() > Date.now() + 20_000);
    await schema.query(`UPDATE ${schema.jobs} SET state = 'executing', attempt = 1 WHERE id = $1`, [g.id]);
    const i = await oban.insert(PlainWorker, { doc: 1, rev: 3 }, { unique: debounce, scheduleIn: 30 });
    assert.deepEqual([i.id, i.state, i.args.rev], [g.id, 'executing', 2], 'a running job is returned as it is');

    const more = {
      period: Infinity,
      fields: ['worker' as const, 'args' as const],
      keys: ['k'],
      replace: { available: ['meta' as const, 'maxAttempts' as const, 'queue' as const] },
    };
    const e = await oban.insert(PlainWorker, { k: 1 }, { unique: more, meta: { v: 1 } });
    const f = await oban.insert(
      PlainWorker,
      { k: 1 },
      { unique: more, meta: { v: 2 }, maxAttempts: 3, queue: 'moved' },
    );
    assert.deepEqual([f.id, f.meta, f.maxAttempts, f.queue], [e.id, { v: 2 }, 3, 'moved']);
  });

  it('insertAll reports per entry: new, conflicting with a stored job, or with an earlier entry of the batch', async () => {
    const stored = await oban.insert(MailWorker, { to: 'bulk-0' });
    const jobs = await oban.insertAll([
      { worker: MailWorker, args: { to: 'bulk-1' } },
      { worker: PlainWorker, args: { any: 1 } },
      { worker: MailWorker, args: { to: 'bulk-0' } },
      { worker: MailWorker, args: { to: 'bulk-1' } },
      { worker: PlainWorker, args: { any: 1 } },
      { worker: MailWorker, args: { to: 'bulk-2' }, scheduleIn: 60 },
      { worker: MailWorker, args: { to: 'bulk-1' } },
    ]);
    assert.deepEqual(
      jobs.map((j) => j.conflict),
      [false, undefined, true, true, undefined, false, true],
    );
    assert.equal(jobs[2].id, stored.id);
    assert.equal(jobs[3].id, jobs[0].id);
    assert.equal(jobs[6].id, jobs[0].id);
    assert.notEqual(jobs[1].id, jobs[4].id);
    assert.equal(jobs[5].state, 'scheduled');
    assert.deepEqual(
      jobs.map((j) => j.args),
      [
        { to: 'bulk-1' },
        { any: 1 },
        { to: 'bulk-0' },
        { to: 'bulk-1' },
        { any: 1 },
        { to: 'bulk-2' },
        { to: 'bulk-1' },
      ],
    );
    assert.equal(await schema.count(`args->>'to' LIKE 'bulk-%'`), 3);
    assert.equal(await schema.count(`args = '{"any": 1}'`), 2);
  });

  it("in the caller's transaction: a duplicate of its own uncommitted job conflicts; a rollback leaves nothing", async () => {
    const ids = await dataSource.transaction(async (manager) => {
      const a = await oban.insert(MailWorker, { to: 'tx' }, { manager });
      const b = await oban.insert(MailWorker, { to: 'tx' }, { manager });
      const [c] = await oban.insertAll([{ worker: MailWorker, args: { to: 'tx' } }], { manager });
      return [a.conflict, b.conflict, b.id === a.id, c.id === a.id];
    });
    assert.deepEqual(ids, [false, true, true, true]);
    await assert.rejects(
      dataSource.transaction(async (manager) => {
        await oban.insert(MailWorker, { to: 'tx-rolled-back' }, { manager });
        throw new Error('rolled back');
      }),
      /rolled back/,
    );
    assert.equal((await oban.insert(MailWorker, { to: 'tx-rolled-back' })).conflict, false);
  });

  it('a holder that commits while the insert waits on it is returned; one that rolls back leaves the insert its own job', async () => {
    for (const commit of [true, false]) {
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      let holderId = 0;
      const holding = dataSource.transaction(async (manager) => {
        holderId = (await oban.insert(MailWorker, { to: `race-${commit}` }, { manager })).id;
        await released;
        if (!commit) throw new Error('rollback');
      });
      await waitFor('the holder', () => holderId);
      let settled = false;
      const waiting = oban.insert(MailWorker, { to: `race-${commit}` }).finally(() => (settled = true));
      // The insert waits on the holder's uncommitted row (a lock wait, seen in pg_stat_activity).
      await uniqueInsertWaiting(schema);
      assert.equal(settled, false);
      release();
      await holding.catch((e: Error) => assert.equal(e.message, 'rollback'));
      const job = await waiting;
      if (commit) assert.deepEqual([job.conflict, job.id], [true, holderId]);
      else {
        assert.equal(job.conflict, false);
        assert.notEqual(job.id, holderId);
        assert.ok(await oban.getJob(job.id), 'its own job is stored');
      }
    }
  });

  it('under REPEATABLE READ, a holder committed after the snapshot is a serialization failure, as the README says', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let held = false;
    const holding = dataSource.transaction(async (manager) => {
      await oban.insert(MailWorker, { to: 'rr' }, { manager });
      held = true;
      await released;
    });
    await waitFor('the holder', () => held);
    const attempt = dataSource.transaction('REPEATABLE READ', async (manager) => {
      await manager.query('SELECT 1'); // the transaction's snapshot, taken before the holder commits
      return oban.insert(MailWorker, { to: 'rr' }, { manager });
    });
    await uniqueInsertWaiting(schema);
    // Attached before the release: the refusal may arrive before the holder's COMMIT returns here.
    const refused = assert.rejects(attempt, (error: Error & { code?: string; driverError?: { code?: string } }) => {
      assert.equal(error.driverError?.code ?? error.code, '40001', String(error));
      return true;
    });
    release();
    await holding;
    await refused;
  });

  it('staging, snooze, retries, rescue, cancel and prune never trip the index; duplicates conflict all along', async () => {
    const { jobs: store } = internals;
    const args = { id: 'flow', plan: ['fail', 'snooze', 'done'] };
    const dup = () => oban.insert(StepWorker, { id: 'flow', plan: ['other'] });
    const a = await oban.insert(StepWorker, args);
    const due = () => schema.query(`UPDATE ${schema.jobs} SET scheduled_at = now() WHERE id = $1`, [a.id]);
    const state = async () => (await oban.getJob(a.id))!.state;

    assert.deepEqual(await drainQueue(app, { queue: 'steps' }), {
      completed: 0,
      retryable: 1,
      discarded: 0,
      cancelled: 0,
      snoozed: 0,
    });
    assert.equal(await state(), 'retryable');
    assert.equal((await dup()).id, a.id);
    await due();
    assert.ok((await store.stageJobs(100, ['steps'])).includes('steps'));
    assert.equal(await state(), 'available');
    assert.equal((await dup()).id, a.id);
    assert.equal((await drainQueue(app, { queue: 'steps' })).snoozed, 1);
    assert.equal(await state(), 'scheduled');
    assert.equal((await dup()).id, a.id);
    await due();
    await store.stageJobs(100, ['steps']);
    const [claimed] = await store.fetchJobs('steps', 1, 'ghost-node'); // a node that dies mid-run
    assert.equal(claimed.id, a.id);
    assert.equal((await dup()).id, a.id);
    await cluster.rescueOwnJobs('ghost-node', 10);
    assert.equal(await state(), 'available');
    assert.equal((await drainQueue(app, { queue: 'steps' })).completed, 1);
    assert.equal(await state(), 'completed');

    // Completed under 'incomplete': the key is free for a new job, which runs, is cancelled, is pruned.
    const b = await dup();
    assert.equal(b.conflict, false);
    await oban.cancelJob(b.id);
    const c = await dup();
    assert.equal(c.conflict, false);
    // The pruner (and deleteJob) take finished jobs away; the index never stands in the way.
    await schema.query(`UPDATE ${schema.jobs} SET completed_at = now() - interval '2 days' WHERE id = $1`, [a.id]);
    assert.ok((await cluster.pruneJobs(86_400, 100)) >= 1);
    assert.equal(await oban.getJob(a.id), null);
    assert.equal(await oban.deleteJob(b.id), true);
    assert.equal((await dup()).id, c.id);
  });

  it('a retry by hand that would duplicate a job is refused, naming the job that holds the key', async () => {
    const unique = { states: 'incomplete' as const, period: Infinity };
    const a = await oban.insert(PlainWorker, { retry: 1 }, { unique });
    await setState(a.id, 'completed');
    const b = await oban.insert(PlainWorker, { retry: 1 }, { unique });
    assert.equal(b.conflict, false);
    await assert.rejects(oban.retryJob(a.id), (error: Error) => {
      assert.ok(error instanceof ObanError);
      assert.match(
        error.message,
        new RegExp(`retryJob\\(${a.id}\\): job ${a.id} is unique and job ${b.id} \\(available\\) holds its key`),
      );
      return true;
    });
    assert.equal((await oban.getJob(a.id))!.state, 'completed', 'left as it was');
    await oban.cancelJob(b.id);
    assert.equal((await oban.retryJob(a.id))!.state, 'available', 'once the key is free, the retry goes through');
    assert.equal((await oban.insert(PlainWorker, { retry: 1 }, { unique })).id, a.id);

    // Under 'successful' a completed job keeps its key: retrying it can never collide.
    const kept = { states: 'successful' as const, period: Infinity };
    const c = await oban.insert(PlainWorker, { retry: 2 }, { unique: kept });
    await setState(c.id, 'completed');
    assert.equal((await oban.insert(PlainWorker, { retry: 2 }, { unique: kept })).id, c.id);
    assert.equal((await oban.retryJob(c.id))!.state, 'available');
  });

  it('the key the database computes is the one uniqueKey computes (the inline store uses it)', async () => {
    const at = new Date(Date.UTC(2030, 0, 1, 12, 34, 56));
    const unique = { period: 600, timestamp: 'scheduledAt' as const, keys: ['b', 'a'] };
    const job = await oban.insert(PlainWorker, { a: 1, b: { y: 2, x: [1, 'z'] }, c: 3 }, { unique, scheduledAt: at });
    const [row] = await rows('id = $1', [job.id]);
    const resolved = resolveUnique(unique, (m) => assert.fail(m))!;
    const base = uniqueBase(resolved, {
      worker: 'PlainWorker',
      queue: 'plain',
      args: { b: { x: [1, 'z'], y: 2 }, a: 1 },
      meta: {},
    });
    assert.equal(row.unique_key.toString('hex'), uniqueKey(base, 600, at.getTime()));
    assert.notEqual(uniqueKey(base, 600, at.getTime() + 600_000), uniqueKey(base, 600, at.getTime()));
    // The states it holds its key in are kept with it (as text: pg leaves enum arrays unparsed).
    assert.equal(
      row.unique_states,
      `{${JOB_STATES.filter((st) => UNIQUE_STATE_GROUPS.successful.includes(st)).join(',')}}`,
    );
  });

  it('the index holds exactly the keys of jobs in their counted states', async () => {
    const [{ bad }] = await schema.query(
      `SELECT count(*)::int AS bad FROM ${schema.jobs} a JOIN ${schema.jobs} b
         ON a.unique_key = b.unique_key AND a.id < b.id
       WHERE a.state = ANY(a.unique_states) AND b.state = ANY(b.unique_states)`,
    );
    assert.equal(bad, 0);
    const [index] = await schema.query(
      `SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = 'oban_jobs_unique_index'`,
      [schema.prefix],
    );
    assert.match(
      index.indexdef,
      /UNIQUE INDEX .* \(unique_key\) WHERE \(\(unique_key IS NOT NULL\) AND \(state = ANY \(unique_states\)\)\)/,
    );
    assert.ok((await rows('unique_key IS NULL')).length > 0, 'jobs without unique have no key');
  });
});

describe('unique options are checked, naming the worker, the option and the field', () => {
  it('refuses, when the worker is declared, states a job could leave and re-enter', () => {
    assert.throws(
      () => {
        @Worker({ unique: { states: ['available', 'completed'] } })
        class AvailableOnlyWorker {
          perform() {}
        }
        return AvailableOnlyWorker;
      },
      (error: Error) => {
        assert.ok(error instanceof ObanConfigError);
        assert.match(
          error.message,
          /^@Worker\(\) on AvailableOnlyWorker: unique.states \[available, completed\] leaves out scheduled, executing, retryable/,
        );
        assert.match(error.message, /staging would then fail on the unique index/);
        return true;
      },
    );
  });

  it('checks every option at declaration', () => {
    const declare = (unique: unknown) => () => {
      @Worker({ unique: unique as any })
      class BadUniqueWorker {
        perform() {}
      }
      return BadUniqueWorker;
    };
    const cases: Array<[unknown, RegExp]> = [
      ['yes', /unique must be true, false or an object of unique options, got 'yes'/],
      [
        { field: ['args'] },
        /unique: unknown option 'field' \(known: fields, keys, period, states, timestamp, replace\)/,
      ],
      [{ fields: [] }, /unique.fields must be a non-empty array/],
      [{ fields: ['tags'] }, /unique.fields: unknown field 'tags'/],
      [{ keys: 'id' }, /unique.keys must be a non-empty array of key names/],
      [
        { keys: ['id'], fields: ['worker'] },
        /unique.keys picks keys of args or meta, but unique.fields \(worker\) names neither/,
      ],
      [{ period: 0 }, /unique.period must be a whole number of seconds from 1 to .*, or Infinity, got 0/],
      [{ period: 1.5 }, /unique.period .* got 1.5/],
      [{ period: -Infinity }, /unique.period .* got -Infinity/],
      [{ states: 'done' }, /unique.states: unknown group 'done' \(groups: incomplete, successful, all/],
      [{ states: ['available', 'finished'] }, /unique.states: unknown state 'finished'/],
      [{ states: [] }, /unique.states must be 'incomplete', 'successful', 'all' or a non-empty list/],
      [{ timestamp: 'attemptedAt' }, /unique.timestamp must be 'insertedAt' or 'scheduledAt', got 'attemptedAt'/],
      [{ replace: ['args'] }, /unique.replace must be an object of \{ state: \[fields\] \}/],
      [{ replace: { waiting: ['args'] } }, /unique.replace: unknown state 'waiting'/],
      [
        { replace: { completed: ['args'] }, states: 'incomplete' },
        /unique.replace.completed: a completed job never conflicts, as unique.states \(.*\) does not count it/,
      ],
      [{ replace: { scheduled: [] } }, /unique.replace.scheduled must be a non-empty array/],
      [
        { replace: { scheduled: ['worker'] } },
        /unique.replace.scheduled: unknown field 'worker' \(fields: args, meta, tags, priority, maxAttempts, queue, scheduledAt\)/,
      ],
    ];
    for (const [unique, message] of cases) {
      assert.throws(declare(unique), (error: Error) => {
        assert.ok(error instanceof ObanConfigError, `${JSON.stringify(unique)}: ${error}`);
        assert.match(error.message, /^@Worker\(\) on BadUniqueWorker: /);
        assert.match(error.message, message);
        return true;
      });
    }
  });

  it("checks an insert's unique, naming the insert", async () => {
    const app = await createApp({ oban: { queues: {}, testing: 'inline' }, providers: [PlainWorker] });
    try {
      const oban = app.get(Oban);
      await assert.rejects(oban.insert(PlainWorker, {}, { unique: { states: ['executing'] } }), (error: Error) => {
        assert.ok(error instanceof ObanValidationError);
        assert.match(
          error.message,
          /^insert\(PlainWorker\): unique.states \[executing\] leaves out scheduled, available, retryable/,
        );
        return true;
      });
      await assert.rejects(
        oban.insertAll([
          { worker: PlainWorker, args: {} },
          { worker: PlainWorker, args: {}, unique: { period: 'hour' as any } },
        ]),
        /^ObanValidationError: insertAll\[1\] \(PlainWorker\): unique.period must be/,
      );
    } finally {
      await app.close();
    }
  });
});

describe("unique jobs under testing: 'inline'", () => {
  it('a duplicate of a job run earlier is not run again while that job counts; replace applies', async () => {
    const performed: string[] = [];
    @Worker({ queue: 'inline', unique: { period: Infinity, keys: ['id'], replace: { completed: ['args'] } } })
    class InlineUniqueWorker {
      perform(job: Job<{ id: number; v: string }>) {
        performed.push(job.args.v);
        if (job.args.v === 'fail') throw new Error('no');
      }
    }
    const app = await createApp({ oban: { queues: {}, testing: 'inline' }, providers: [InlineUniqueWorker] });
    try {
      const oban = app.get(Oban);
      const a = await oban.insert(InlineUniqueWorker, { id: 1, v: 'a' });
      const b = await oban.insert(InlineUniqueWorker, { id: 1, v: 'b' });
      assert.deepEqual(
        [a.conflict, a.state, b.conflict, b.id, b.state, b.args.v],
        [false, 'completed', true, a.id, 'completed', 'b'],
      );
      const c = await oban.insert(
        InlineUniqueWorker,
        { id: 2, v: 'fail' },
        { unique: { states: 'incomplete', keys: ['id'] } },
      );
      const d = await oban.insert(
        InlineUniqueWorker,
        { id: 2, v: 'again' },
        { unique: { states: 'incomplete', keys: ['id'] } },
      );
      assert.deepEqual([c.state, d.conflict, d.id], ['retryable', true, c.id], 'a retryable job still counts');
      const [e, f] = await oban.insertAll([
        { worker: InlineUniqueWorker, args: { id: 3, v: 'e' }, unique: { states: 'incomplete', keys: ['id'] } },
        { worker: InlineUniqueWorker, args: { id: 3, v: 'f' }, unique: { states: 'incomplete', keys: ['id'] } },
      ]);
      assert.deepEqual([e.conflict, f.conflict], [false, false], 'a completed job does not count under incomplete');
      assert.deepEqual(performed, ['a', 'fail', 'e', 'f']);
    } finally {
      await app.close();
    }
  });
});

describe('unique jobs on embedded PGlite', () => {
  it('conflicts, replaces, reports per entry and refuses a colliding retry as on a server', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nest-oban-unique-'));
    const app = await createApp({ oban: { pglite: { dataDir: dir }, queues: {} }, providers: [PlainWorker] });
    try {
      const oban = app.get(Oban);
      const unique = {
        period: Infinity,
        states: 'incomplete' as const,
        keys: ['k'],
        replace: { available: ['args' as const] },
      };
      const a = await oban.insert(PlainWorker, { k: 1, v: 'a' }, { unique });
      const b = await oban.insert(PlainWorker, { k: 1, v: 'b' }, { unique });
      assert.deepEqual([a.conflict, b.conflict, b.id, b.args.v], [false, true, a.id, 'b']);
      const [c, d, e] = await oban.insertAll([
        { worker: PlainWorker, args: { k: 2 }, unique },
        { worker: PlainWorker, args: { k: 1 }, unique },
        { worker: PlainWorker, args: { k: 2 }, unique },
      ]);
      assert.deepEqual([c.conflict, d.conflict, d.id, e.conflict, e.id], [false, true, a.id, true, c.id]);
      await oban.cancelJob(a.id);
      const f = await oban.insert(PlainWorker, { k: 1 }, { unique });
      assert.equal(f.conflict, false);
      await assert.rejects(oban.retryJob(a.id), new RegExp(`job ${f.id} \\(available\\) holds its key`));
    } finally {
      await app.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
