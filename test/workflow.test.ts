import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { INestApplicationContext } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Oban, ObanValidationError, Worker, workflowOf, type Job } from '../lib';
import { ClusterStore } from '../lib/store/cluster-store';
import { drainQueue } from '../lib/testing';
import { OBAN_SCHEMA_VERSIONS, applyVersionUp } from '../migrations';
import { createApp } from './support/app';
import { DATABASE_URL, TestSchema } from './support/db';
import { waitFor } from './support/wait';

/** What ran, in order, in this process. */
const log: Array<{ step: string; at: number; phase: 'start' | 'end' }> = [];

@Worker({ queue: 'wf', maxAttempts: 3 })
class StepWorker {
  async perform(job: Job<{ ms?: number; failUntil?: number; value?: unknown }>) {
    const step = workflowOf(job)?.step ?? '?';
    log.push({ step, at: Date.now(), phase: 'start' });
    await new Promise((r) => setTimeout(r, job.args.ms ?? 0));
    if (job.args.failUntil !== undefined && job.attempt <= job.args.failUntil) throw new Error(`${step} failed`);
    log.push({ step, at: Date.now(), phase: 'end' });
    return { step, value: job.args.value ?? null, seen: workflowOf(job)?.results ?? {} };
  }
}

/** Fails every attempt: discarded after its one attempt. */
@Worker({ queue: 'wf', maxAttempts: 1 })
class DoomedWorker {
  perform(): never {
    throw new Error('doomed');
  }
}

/** Appends `n` chunk steps to its workflow, then completes. */
@Worker({ queue: 'wf' })
class SplitWorker {
  constructor(private readonly oban: Oban) {}
  async perform(job: Job<{ n: number }>) {
    let append = this.oban.appendToWorkflow(job);
    for (let i = 0; i < job.args.n; i++) append = append.add(`chunk-${i}`, StepWorker, { value: i });
    const appended = await append.insert();
    return { appended: Object.keys(appended.jobs).length };
  }
}

/** Sums what its dependencies returned. */
@Worker({ queue: 'wf' })
class SumWorker {
  perform(job: Job) {
    const results = workflowOf<Record<string, { value: number } | null>>(job)!.results;
    const values = Object.values(results).map((r) => (typeof r?.value === 'number' ? r.value : 0));
    return { sum: values.reduce((a, b) => a + b, 0), inputs: Object.keys(results).length };
  }
}

/** Never run: its queue runs nowhere. */
@Worker({ queue: 'parked' })
class ParkedWorker {
  perform() {
    return 'parked';
  }
}

/** A batch callback on PGlite. */
@Worker({ queue: 'wf' })
class CallbackOnPglite {
  perform() {
    return 'called back';
  }
}

describe('workflows', () => {
  const schema = new TestSchema('workflow');
  let app: INestApplicationContext;
  let oban: Oban;
  let dataSource: DataSource;
  before(async () => {
    app = await createApp({
      oban: { connection: DATABASE_URL, prefix: schema.prefix, migrate: true, queues: { wf: 10 } },
      providers: [StepWorker, DoomedWorker, SplitWorker, SumWorker, ParkedWorker],
    });
    oban = app.get(Oban);
    dataSource = await new DataSource({ type: 'postgres', url: DATABASE_URL }).initialize();
  });
  after(async () => {
    await dataSource?.destroy();
    await app?.close();
    await schema.drop();
  });

  const job = (id: number) => oban.getJob(id);
  const settled = (id: number, state: string) =>
    waitFor(`job ${id} ${state}`, async () => {
      const j = await job(id);
      return j?.state === state && j;
    });

  it('runs a DAG in dependency order; a fan-in step reads its dependencies results by step name', async () => {
    log.length = 0;
    const wf = await oban
      .workflow()
      .add('fetch', StepWorker, { ms: 100, value: 'image' })
      .add('resize', StepWorker, { ms: 50, value: 800 }, { deps: ['fetch'] })
      .add('thumb', StepWorker, { ms: 50, value: 64 }, { deps: ['fetch'] })
      .add('notify', StepWorker, { value: 'sent' }, { deps: ['resize', 'thumb'] })
      .insert();
    assert.equal(wf.jobs.fetch.state, 'available');
    assert.equal(wf.jobs.resize.state, 'suspended');
    assert.equal(wf.jobs.notify.state, 'suspended');
    assert.deepEqual(wf.jobs.notify.meta.workflow_deps, ['resize', 'thumb']);

    const notify = await settled(wf.jobs.notify.id, 'completed');
    const at = (step: string, phase: 'start' | 'end') => log.find((e) => e.step === step && e.phase === phase)!.at;
    assert.ok(at('resize', 'start') >= at('fetch', 'end'));
    assert.ok(at('thumb', 'start') >= at('fetch', 'end'));
    assert.ok(at('notify', 'start') >= Math.max(at('resize', 'end'), at('thumb', 'end')));
    const result = notify.result as { seen: Record<string, { value: unknown }> };
    assert.deepEqual(Object.keys(result.seen).sort(), ['resize', 'thumb']);
    assert.equal(result.seen.resize.value, 800);
    assert.equal(result.seen.thumb.value, 64);
    assert.equal(workflowOf(notify)!.id, wf.id);

    const status = await oban.workflowStatus(wf.id);
    assert.deepEqual(status.states, { completed: 4 });
    assert.equal(status.finished, true);
    assert.deepEqual(status.steps.notify, { completed: 1 });
  });

  it('a dependent is released in the same transaction that completes its last dependency', async () => {
    const wf = await oban
      .workflow()
      .add('a', ParkedWorker, {})
      .add('b', ParkedWorker, {})
      .add('c', ParkedWorker, {}, { deps: ['a', 'b'] })
      .insert();
    const complete = `UPDATE ${schema.jobs} SET state = 'completed', completed_at = now(), result = $2 WHERE id = $1`;
    await schema.query(complete, [wf.jobs.a.id, '{"n": 1}']);
    assert.equal((await job(wf.jobs.c.id))?.state, 'suspended', 'one of two dependencies done');
    const client = await schema.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(complete, [wf.jobs.b.id, '{"n": 2}']);
      const inTx = await client.query(`SELECT state::text, meta FROM ${schema.jobs} WHERE id = $1`, [wf.jobs.c.id]);
      assert.equal(inTx.rows[0].state, 'available', 'released by the same statement');
      assert.deepEqual(inTx.rows[0].meta.workflow_results, { a: { n: 1 }, b: { n: 2 } });
      assert.equal((await job(wf.jobs.c.id))?.state, 'suspended', 'not visible before the commit');
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    assert.equal((await job(wf.jobs.c.id))?.state, 'suspended', 'rolled back with it');
    await oban.cancelWorkflow(wf.id);
  });

  it('typed step names; an unknown dependency, a cycle or a repeated name is refused naming it', () => {
    // Compile-time checks (tsc fails if these lines compile), never run.
    const typeChecks = () => {
      const typed = oban.workflow().add('fetch', StepWorker, {});
      // @ts-expect-error 'thumb' is no step added before
      typed.add('resize', StepWorker, {}, { deps: ['thumb'] });
      // @ts-expect-error a step name is used once
      typed.add('fetch', StepWorker, {});
      // @ts-expect-error args are the worker's
      typed.add('resize', StepWorker, { ms: 'slow' });
    };
    assert.equal(typeof typeChecks, 'function');

    assert.throws(
      () =>
        oban
          .workflow()
          .add('fetch', StepWorker, {})
          .add('notify', StepWorker, {}, { deps: ['thumb' as never] })
          .plan(),
      (e: unknown) =>
        e instanceof ObanValidationError &&
        /step 'notify' depends on 'thumb', which is no step of this workflow \(steps: fetch, notify\)/.test(e.message),
    );
    assert.throws(
      () =>
        oban
          .workflow()
          .add('a', StepWorker, {}, { deps: ['c' as never] })
          .add('b', StepWorker, {}, { deps: ['a'] })
          .add('c', StepWorker, {}, { deps: ['b'] })
          .plan(),
      /steps form a cycle: a -> c -> b -> a/,
    );
    assert.throws(() => oban.workflow().add('a', StepWorker, {}, { deps: ['a' as never] }), /cycle: a -> a/);
    assert.throws(
      () => (oban.workflow().add('a', StepWorker, {}) as any).add('a', StepWorker, {}),
      /step 'a' is added twice/,
    );
    assert.throws(() => oban.workflow().add('x.y' as string, StepWorker, {}), /step name "x.y" must be/);
    assert.throws(
      () => oban.workflow().add('a', StepWorker, {}, { onDepFailure: 'ignore' as never }),
      /onDepFailure must be one of cancel, continue, hold, got "ignore"/,
    );
  });

  it('bad step args are refused naming the step and worker; nothing is inserted', async () => {
    const before = await schema.count();
    await assert.rejects(
      oban
        .workflow()
        .add('fetch', StepWorker, {})
        .add('bad', StepWorker, { value: 10n } as never, { deps: ['fetch'] })
        .insert(),
      /workflow step 'bad' \(StepWorker\): .*args/,
    );
    assert.equal(await schema.count(), before);
  });

  it('cancel policy (the default): a discarded dependency cancels its dependents, naming it, and cascades', async () => {
    const wf = await oban
      .workflow()
      .add('doomed', DoomedWorker, {})
      .add('next', StepWorker, {}, { deps: ['doomed'] })
      .add('last', StepWorker, {}, { deps: ['next'] })
      .insert();
    const next = await settled(wf.jobs.next.id, 'cancelled');
    assert.match(
      next.errors.at(-1)!.error,
      new RegExp(`DependencyFailedError: dependency 'doomed' \\(job ${wf.jobs.doomed.id}\\) was discarded`),
    );
    const last = await settled(wf.jobs.last.id, 'cancelled');
    assert.match(last.errors.at(-1)!.error, /dependency 'next' .* was cancelled/);
    assert.equal((await job(wf.jobs.doomed.id))?.state, 'discarded');
  });

  it('continue policy: the dependent runs anyway, with a null result for the failed dependency', async () => {
    const wf = await oban
      .workflow()
      .add('ok', StepWorker, { value: 1 })
      .add('doomed', DoomedWorker, {})
      .add('sum', SumWorker, {}, { deps: ['ok', 'doomed'], onDepFailure: 'continue' })
      .insert();
    const sum = await settled(wf.jobs.sum.id, 'completed');
    assert.deepEqual(sum.result, { sum: 1, inputs: 2 });
    assert.deepEqual(workflowOf(sum)!.results.doomed, null);
  });

  it('hold policy: the dependent waits, saying why, until the dependency is retried and completes', async () => {
    const wf = await oban
      .workflow()
      .add('flaky', StepWorker, { failUntil: 1 }, { maxAttempts: 1 })
      .add('after', StepWorker, {}, { deps: ['flaky'], onDepFailure: 'hold' })
      .insert();
    await settled(wf.jobs.flaky.id, 'discarded');
    const held = await waitFor('held with a reason', async () => {
      const j = await job(wf.jobs.after.id);
      return typeof j?.meta.workflow_held === 'string' && j;
    });
    assert.equal(held.state, 'suspended');
    assert.match(held.meta.workflow_held as string, /dependency 'flaky' \(job \d+\) was discarded; retry it/);

    const retried = await oban.retryWorkflow(wf.id);
    assert.deepEqual(retried, [{ id: wf.jobs.flaky.id, state: 'available' }]);
    const after = await settled(wf.jobs.after.id, 'completed');
    assert.equal(after.meta.workflow_held, undefined);
    assert.equal((await job(wf.jobs.flaky.id))?.attempt, 2);
  });

  it('retryWorkflow: failed roots run again, cascaded dependents wait for them again', async () => {
    const wf = await oban
      .workflow()
      .add('flaky', StepWorker, { failUntil: 1, value: 5 }, { maxAttempts: 1 })
      .add('mid', StepWorker, {}, { deps: ['flaky'] })
      .add('end', StepWorker, {}, { deps: ['mid'] })
      .insert();
    await settled(wf.jobs.end.id, 'cancelled');
    const retried = await oban.retryWorkflow(wf.id);
    assert.deepEqual(
      retried.sort((a, b) => a.id - b.id),
      [
        { id: wf.jobs.flaky.id, state: 'available' },
        { id: wf.jobs.mid.id, state: 'suspended' },
        { id: wf.jobs.end.id, state: 'suspended' },
      ],
    );
    await settled(wf.jobs.end.id, 'completed');
    assert.deepEqual((await oban.workflowStatus(wf.id)).states, { completed: 3 });
  });

  it('cancelling or deleting a dependency by hand applies each policy', async () => {
    const wf = await oban
      .workflow()
      .add('dep', ParkedWorker, {})
      .add('c1', ParkedWorker, {}, { deps: ['dep'] })
      .add('c2', ParkedWorker, {}, { deps: ['dep'], onDepFailure: 'continue' })
      .add('c3', ParkedWorker, {}, { deps: ['dep'], onDepFailure: 'hold' })
      .insert();
    await oban.cancelJob(wf.jobs.dep.id);
    const c1 = await job(wf.jobs.c1.id);
    assert.equal(c1?.state, 'cancelled');
    assert.match(c1!.errors.at(-1)!.error, /dependency 'dep' .* was cancelled/);
    assert.equal((await job(wf.jobs.c2.id))?.state, 'available', 'continue');
    assert.equal((await job(wf.jobs.c3.id))?.state, 'suspended', 'hold');

    const wf2 = await oban
      .workflow()
      .add('dep', ParkedWorker, {})
      .add('d1', ParkedWorker, {}, { deps: ['dep'] })
      .add('d2', ParkedWorker, {}, { deps: ['dep'], onDepFailure: 'continue' })
      .add('d3', ParkedWorker, {}, { deps: ['dep'], onDepFailure: 'hold' })
      .insert();
    assert.equal(await oban.deleteJob(wf2.jobs.dep.id), true);
    assert.match((await job(wf2.jobs.d1.id))!.errors.at(-1)!.error, /dependency 'dep' .* was deleted/);
    assert.equal((await job(wf2.jobs.d2.id))?.state, 'available', 'continue');
    const d3 = await job(wf2.jobs.d3.id);
    assert.equal(d3?.state, 'cancelled', 'a deleted dependency can never be retried: held dependents are cancelled');
    assert.match(d3!.errors.at(-1)!.error, /was deleted while this step was held for its retry/);
    // And a held dependent whose failed dependency is then deleted is cancelled too (never a silent hang).
    await oban.deleteJob(wf.jobs.dep.id);
    assert.equal((await job(wf.jobs.c3.id))?.state, 'cancelled');
    await oban.cancelWorkflow(wf.id);
    await oban.cancelWorkflow(wf2.id);
  });

  it('fan-out: a running step appends jobs; a step on { appendedBy } waits for all of them', async () => {
    const wf = await oban
      .workflow()
      .add('split', SplitWorker, { n: 25 })
      .add('sum', SumWorker, {}, { deps: [{ appendedBy: 'split' }] })
      .insert();
    const sum = await settled(wf.jobs.sum.id, 'completed');
    // 25 chunks of values 0..24 plus split's own result (no value).
    assert.deepEqual(sum.result, { sum: (24 * 25) / 2, inputs: 26 });
    const status = await oban.workflowStatus(wf.id);
    assert.equal(status.total, 27);
    assert.deepEqual(status.steps['chunk-7'], { completed: 1 });
    const jobs = await oban.workflowJobs(wf.id);
    const chunkEnds = jobs.filter((j) => workflowOf(j)!.step.startsWith('chunk-')).map((j) => j.completedAt!.getTime());
    assert.ok(sum.attemptedAt!.getTime() >= Math.max(...chunkEnds), 'sum ran after the last chunk');
  });

  it('appending refuses a step of no workflow, an unknown dep, a repeated name, and a step not running', async () => {
    const plain = await oban.insert(ParkedWorker, {});
    assert.throws(() => oban.appendToWorkflow(plain), /belongs to no workflow/);
    const wf = await oban.workflow().add('root', ParkedWorker, {}).insert();
    await assert.rejects(
      oban.appendToWorkflow(wf.jobs.root).add('x', ParkedWorker, {}).insert(),
      /job \d+ is available; only a running step appends/,
    );
    await schema.query(`UPDATE ${schema.jobs} SET state = 'executing', attempt = 1 WHERE id = $1`, [wf.jobs.root.id]);
    const running = (await job(wf.jobs.root.id))!;
    await assert.rejects(
      oban
        .appendToWorkflow(running)
        .add('x', ParkedWorker, {}, { deps: ['nope'] })
        .insert(),
      /step 'x' depends on 'nope', which is no step of workflow/,
    );
    await assert.rejects(
      oban.appendToWorkflow(running).add('root', ParkedWorker, {}).insert(),
      /step 'root' exists already/,
    );
    // A dep on a stored step that completed already is met at once, its result handed over.
    await schema.query(
      `UPDATE ${schema.jobs} SET state = 'completed', completed_at = now(), result = '7' WHERE id = $1`,
      [wf.jobs.root.id],
    );
    const wf2 = await oban.workflow().add('done', ParkedWorker, {}).add('runner', ParkedWorker, {}).insert();
    await schema.query(
      `UPDATE ${schema.jobs} SET state = 'completed', completed_at = now(), result = '7' WHERE id = $1`,
      [wf2.jobs.done.id],
    );
    await schema.query(`UPDATE ${schema.jobs} SET state = 'executing', attempt = 1 WHERE id = $1`, [
      wf2.jobs.runner.id,
    ]);
    const appended = await oban
      .appendToWorkflow((await job(wf2.jobs.runner.id))!)
      .add('late', ParkedWorker, {}, { deps: ['done'] })
      .add('later', ParkedWorker, {}, { deps: ['late', 'done'] })
      .insert();
    assert.equal(appended.id, wf2.id);
    assert.equal(appended.jobs.late.state, 'available');
    assert.deepEqual(appended.jobs.late.meta.workflow_results, { done: 7 });
    assert.equal(appended.jobs.later.state, 'suspended');
    await oban.cancelWorkflow(wf2.id);
    await oban.cancelWorkflow(wf.id);
  });

  it('a sub-workflow is one step of another: its first steps wait for the deps, dependents wait for all of it', async () => {
    log.length = 0;
    const sub = oban
      .workflow()
      .add('resize', StepWorker, { ms: 30, value: 800 })
      .add('thumb', StepWorker, { ms: 30, value: 64 }, { deps: ['resize'] });
    const wf = await oban
      .workflow()
      .add('fetch', StepWorker, { ms: 50 })
      .add('images', sub, { deps: ['fetch'] })
      .add('notify', StepWorker, {}, { deps: ['images'] })
      .insert();
    assert.deepEqual(Object.keys(wf.jobs).sort(), ['fetch', 'images.resize', 'images.thumb', 'notify']);
    const notify = await settled(wf.jobs.notify.id, 'completed');
    assert.deepEqual(Object.keys(workflowOf(notify)!.results).sort(), ['images.resize', 'images.thumb']);
    const at = (step: string, phase: 'start' | 'end') => log.find((e) => e.step === step && e.phase === phase)!.at;
    assert.ok(at('images.resize', 'start') >= at('fetch', 'end'));
    assert.ok(at('images.thumb', 'start') >= at('images.resize', 'end'));
    assert.ok(at('notify', 'start') >= at('images.thumb', 'end'));
  });

  it('cancelWorkflow cancels every unfinished job; status counts by state and step', async () => {
    const wf = await oban
      .workflow()
      .add('a', ParkedWorker, {})
      .add('b', ParkedWorker, {}, { deps: ['a'] })
      .add('c', ParkedWorker, {}, { deps: ['a'] })
      .insert();
    const before = await oban.workflowStatus(wf.id);
    assert.deepEqual(before.states, { available: 1, suspended: 2 });
    assert.equal(before.finished, false);
    const cancelled = await oban.cancelWorkflow(wf.id);
    assert.deepEqual(cancelled.sort(), [wf.jobs.a.id, wf.jobs.b.id, wf.jobs.c.id].sort());
    const after = await oban.workflowStatus(wf.id);
    assert.deepEqual(after.states, { cancelled: 3 });
    assert.equal(after.finished, true);
    assert.match((await job(wf.jobs.b.id))!.errors.at(-1)!.error, /WorkflowCancelledError: workflow .* was cancelled/);
    assert.deepEqual(await oban.workflowStatus('no-such-workflow'), {
      id: 'no-such-workflow',
      total: 0,
      finished: false,
      states: {},
      steps: {},
    });
  });

  it("inserts in the caller's transaction: rolled back, nothing; a manager outside a transaction is refused", async () => {
    const before = await schema.count();
    await assert.rejects(
      dataSource.transaction(async (manager) => {
        await oban
          .workflow()
          .add('a', ParkedWorker, {})
          .add('b', ParkedWorker, {}, { deps: ['a'] })
          .insert({ manager });
        throw new Error('roll back');
      }),
      /roll back/,
    );
    assert.equal(await schema.count(), before);
    const wf = await dataSource.transaction((manager) =>
      oban
        .workflow()
        .add('a', ParkedWorker, {})
        .add('b', ParkedWorker, {}, { deps: ['a'] })
        .insert({ manager }),
    );
    assert.equal((await job(wf.jobs.b.id))?.state, 'suspended');
    await oban.cancelWorkflow(wf.id);
    await assert.rejects(
      oban.workflow().add('a', ParkedWorker, {}).insert({ manager: dataSource.manager }),
      /manager must be the EntityManager of a running transaction/,
    );
  });

  it("the pruner keeps a workflow's finished jobs until the whole workflow is finished", async () => {
    const cluster = app.get(ClusterStore);
    const wf = await oban
      .workflow()
      .add('a', ParkedWorker, {})
      .add('b', ParkedWorker, {}, { deps: ['a'] })
      .insert();
    await schema.query(
      `UPDATE ${schema.jobs} SET state = 'completed', completed_at = now() - interval '1 hour' WHERE id = $1`,
      [wf.jobs.a.id],
    );
    const loose = await oban.insert(ParkedWorker, {});
    await schema.query(
      `UPDATE ${schema.jobs} SET state = 'completed', completed_at = now() - interval '1 hour' WHERE id = $1`,
      [loose.id],
    );
    await cluster.pruneJobs(60, 10_000);
    assert.equal(await job(loose.id), null, 'a job of no workflow is pruned');
    assert.equal((await job(wf.jobs.a.id))?.state, 'completed', 'kept: b is still to run');
    assert.equal((await job(wf.jobs.b.id))?.state, 'available', 'released by its completion');
    await schema.query(
      `UPDATE ${schema.jobs} SET state = 'completed', completed_at = now() - interval '1 hour' WHERE id = $1`,
      [wf.jobs.b.id],
    );
    await cluster.pruneJobs(60, 10_000);
    assert.equal(await job(wf.jobs.a.id), null);
    assert.equal(await job(wf.jobs.b.id), null);
  });
});

describe('workflows, relay and batches on embedded PGlite', () => {
  let app: INestApplicationContext;
  let oban: Oban;
  before(async () => {
    app = await createApp({
      oban: { pglite: { dataDir: 'memory://' }, queues: { wf: 5 } },
      providers: [StepWorker, SumWorker, CallbackOnPglite],
    });
    oban = app.get(Oban);
  });
  after(async () => {
    await app?.close();
  });

  it('releases dependents, relays a result and fires a batch callback', async () => {
    const wf = await oban
      .workflow()
      .add('a', StepWorker, { value: 2 })
      .add('b', StepWorker, { value: 3 })
      .add('sum', SumWorker, {}, { deps: ['a', 'b'] })
      .insert();
    assert.deepEqual(await oban.awaitJob(wf.jobs.sum, { timeout: 20_000 }), { sum: 5, inputs: 2 });
    const batch = await oban
      .batch({ onCompleted: { worker: CallbackOnPglite, args: {} } })
      .add(StepWorker, {})
      .insert();
    const status = await waitFor('the callback fired', async () => {
      const s = await oban.batchStatus(batch.id);
      return s?.fired.onCompleted && s;
    });
    assert.equal(await oban.awaitJob(status.fired.onCompleted!, { timeout: 20_000 }), 'called back');
  });
});

describe("workflows under testing: 'manual'", () => {
  const schema = new TestSchema('workflow_manual');
  let app: INestApplicationContext;
  before(async () => {
    app = await createApp({
      oban: { connection: DATABASE_URL, prefix: schema.prefix, migrate: true, testing: 'manual', queues: { wf: 5 } },
      providers: [StepWorker, SumWorker],
    });
  });
  after(async () => {
    await app?.close();
    await schema.drop();
  });

  it('drainQueue with recursion runs each released step, in dependency order', async () => {
    const oban = app.get(Oban);
    const wf = await oban
      .workflow()
      .add('a', StepWorker, { value: 4 })
      .add('b', StepWorker, { value: 5 }, { deps: ['a'] })
      .add('sum', SumWorker, {}, { deps: ['a', 'b'] })
      .insert();
    assert.deepEqual(await drainQueue(app, { queue: 'wf' }), {
      completed: 1,
      retryable: 0,
      discarded: 0,
      cancelled: 0,
      snoozed: 0,
    });
    assert.equal((await oban.getJob(wf.jobs.b.id))?.state, 'available', 'released by a');
    await drainQueue(app, { queue: 'wf', withRecursion: true });
    assert.deepEqual((await oban.getJob(wf.jobs.sum.id))?.result, { sum: 9, inputs: 2 });
  });
});

describe('schema version 5 on a table too large to lock: the online path', () => {
  const schema = new TestSchema('workflow_online');
  after(() => schema.drop());

  it('builds its indexes concurrently first; the version then applies in a transaction', async () => {
    const quoted = `"${schema.prefix}"`;
    const before = OBAN_SCHEMA_VERSIONS.filter((v) => v.version < 5);
    const v5 = OBAN_SCHEMA_VERSIONS.find((v) => v.version === 5)!;
    for (const version of before) await applyVersionUp(schema, version, schema.prefix);
    for (const sql of v5.online!(quoted)) await schema.query(sql); // outside a transaction, as migrate runs them
    const client = await schema.pool.connect();
    try {
      await client.query('BEGIN');
      await applyVersionUp(client, v5, schema.prefix);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const indexes = await schema.query(
      `SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
       WHERE i.indrelid = to_regclass($1) AND c.relname LIKE 'oban_jobs_%_index' AND c.relname ~ 'workflow|batch'
       ORDER BY 1`,
      [`${quoted}.oban_jobs`],
    );
    assert.deepEqual(indexes, [
      { relname: 'oban_jobs_batch_index', indisvalid: true },
      { relname: 'oban_jobs_workflow_index', indisvalid: true },
      { relname: 'oban_jobs_workflow_open_index', indisvalid: true },
    ]);
  });
});
