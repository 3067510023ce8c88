import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { INestApplicationContext } from '@nestjs/common';
import {
  Oban,
  ObanValidationError,
  RelayAbortedError,
  RelayCancelledError,
  RelayDeletedError,
  RelayDiscardedError,
  RelayTimeoutError,
  Worker,
  cancel,
  type Job,
  type PerformContext,
} from '../lib';
import { type TestNode, killAll, startNode } from './support/cluster';
import { createApp } from './support/app';
import { DATABASE_URL, TestSchema } from './support/db';
import { waitFor } from './support/wait';

@Worker({ queue: 'relay', maxAttempts: 1 })
class EchoWorker {
  async perform(job: Job<{ mode: 'ok' | 'big' | 'fail' | 'cancel' | 'wait'; ms?: number }>, ctx: PerformContext) {
    const { mode, ms } = job.args;
    if (mode === 'fail') throw new Error('the echo failed');
    if (mode === 'cancel') return cancel('not today');
    if (mode === 'wait') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms ?? 60_000);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    // 200 kB: far over the ~8 kB a NOTIFY payload may carry.
    if (mode === 'big') return { text: 'x'.repeat(200_000), id: job.id };
    return { echoed: job.id, attempt: job.attempt };
  }
}

/** On a queue no node runs: its jobs wait. */
@Worker({ queue: 'parked' })
class ParkedWorker {
  perform() {
    return 'never';
  }
}

describe('relay: await a job result', () => {
  const schema = new TestSchema('relay');
  let app: INestApplicationContext;
  let oban: Oban;
  before(async () => {
    app = await createApp({
      // The poll (every stageInterval ms) is an hour away: a wait that ends in seconds was notified.
      oban: {
        connection: DATABASE_URL,
        prefix: schema.prefix,
        migrate: true,
        queues: { relay: 5 },
        stageInterval: 3_600_000,
      },
      providers: [EchoWorker, ParkedWorker],
    });
    oban = app.get(Oban);
  });
  after(async () => {
    await app?.close();
    await schema.drop();
  });

  it('relay resolves with the typed result, notified (the poll is an hour away)', async () => {
    const result = await oban.relay(EchoWorker, { mode: 'ok' }, { timeout: 10_000 });
    // Typed: { echoed: number; attempt: number } | { text: string; id: number }
    assert.equal(typeof (result as { echoed: number }).echoed, 'number');
    const job = await oban.getJob((result as { echoed: number }).echoed);
    assert.equal(job?.state, 'completed');
    assert.equal(job?.meta.relay, true, 'relay marks its job');
  });

  it('a result far over the NOTIFY payload limit arrives whole', async () => {
    const result = (await oban.relay(EchoWorker, { mode: 'big' }, { timeout: 10_000 })) as { text: string };
    assert.equal(result.text.length, 200_000);
  });

  it('awaitJob waits for a job inserted earlier, by the job or by its id', async () => {
    const job = await oban.insert(EchoWorker, { mode: 'wait', ms: 300 });
    const [byJob, byId] = await Promise.all([oban.awaitJob(job, { timeout: 10_000 }), oban.awaitJob(job.id)]).catch(
      async (error) => {
        // Say where the job stood, so a failure shows whether it ran.
        const now = await oban.getJob(job.id);
        throw new Error(`${error.message}; the job is ${now?.state}, meta ${JSON.stringify(now?.meta)}`);
      },
    );
    assert.deepEqual(byJob, { echoed: job.id, attempt: 1 });
    assert.deepEqual(byId, byJob);
  });

  it('awaitJob of a job that finished already reads it', async () => {
    const job = await oban.insert(EchoWorker, { mode: 'ok' });
    await waitFor('completed', async () => (await oban.getJob(job.id))?.state === 'completed');
    assert.deepEqual(await oban.awaitJob(job.id, { timeout: 10_000 }), { echoed: job.id, attempt: 1 });
  });

  it('a discarded job rejects with RelayDiscardedError carrying its last error', async () => {
    const error = await oban.relay(EchoWorker, { mode: 'fail' }, { timeout: 10_000 }).then(
      () => assert.fail('resolved'),
      (e) => e,
    );
    assert.ok(error instanceof RelayDiscardedError, String(error));
    assert.equal(error.state, 'discarded');
    assert.match(error.message, /job \d+ \(EchoWorker\) was discarded: Error: the echo failed/);
    assert.equal(error.lastError, 'Error: the echo failed');
  });

  it('a job cancelling itself, or cancelled by hand, rejects with RelayCancelledError', async () => {
    await assert.rejects(oban.relay(EchoWorker, { mode: 'cancel' }, { timeout: 10_000 }), (e: unknown) => {
      assert.ok(e instanceof RelayCancelledError);
      assert.match(e.message, /was cancelled: JobCancel: not today/);
      return true;
    });
    const parked = await oban.insert(ParkedWorker, {});
    // The expectation is attached before the cancel: the rejection may arrive before cancelJob returns.
    const rejected = assert.rejects(oban.awaitJob(parked, { timeout: 10_000 }), RelayCancelledError);
    await oban.cancelJob(parked.id);
    await rejected;
  });

  it('a job deleted before it finished, or never inserted, rejects with RelayDeletedError', async () => {
    const parked = await oban.insert(ParkedWorker, {});
    // Attached before the delete, whose notification may settle the wait before deleteJob returns.
    const rejected = assert.rejects(
      oban.awaitJob(parked, { timeout: 10_000 }),
      (e: unknown) => e instanceof RelayDeletedError && e.jobId === parked.id,
    );
    await waitFor('marked', async () => (await oban.getJob(parked.id))?.meta.relay === true);
    assert.equal(await oban.deleteJob(parked.id), true);
    await rejected;
    await assert.rejects(oban.awaitJob(987654321, { timeout: 10_000 }), RelayDeletedError);
  });

  it('a timeout rejects with RelayTimeoutError and the job goes on; cancel: true cancels it', async () => {
    const slow = await oban.insert(EchoWorker, { mode: 'wait', ms: 1_000 });
    await assert.rejects(oban.awaitJob(slow, { timeout: 100 }), (e: unknown) => {
      assert.ok(e instanceof RelayTimeoutError);
      assert.match(e.message, /did not finish within 100 ms; the job goes on/);
      return true;
    });
    await waitFor('the job completed anyway', async () => (await oban.getJob(slow.id))?.state === 'completed');

    const parked = await oban.insert(ParkedWorker, {});
    await assert.rejects(oban.awaitJob(parked, { timeout: 100, cancel: true }), /the job was cancelled/);
    assert.equal((await oban.getJob(parked.id))?.state, 'cancelled');
  });

  it('an AbortSignal ends the wait with RelayAbortedError, also one aborted before', async () => {
    const parked = await oban.insert(ParkedWorker, {});
    const controller = new AbortController();
    const waiting = oban.awaitJob(parked, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(waiting, RelayAbortedError);
    assert.equal((await oban.getJob(parked.id))?.state, 'available', 'the job goes on');
    await assert.rejects(oban.awaitJob(parked, { signal: AbortSignal.abort() }), RelayAbortedError);
  });

  it('bad options are refused naming them', async () => {
    await assert.rejects(
      oban.awaitJob(1, { timeout: -5 }),
      (e: unknown) => e instanceof ObanValidationError && /timeout must be ms > 0/.test(e.message),
    );
    await assert.rejects(oban.awaitJob(1, { signal: 'no' as never }), /signal must be an AbortSignal/);
    await assert.rejects(oban.awaitJob(0), /awaitJob: job id must be a positive integer/);
    await assert.rejects(
      oban.relay(EchoWorker, { mode: 'ok' }, { manager: {} } as never),
      /relay\(EchoWorker\): no manager/,
    );
  });
});

describe('relay: the poll covers a lost notification', () => {
  const schema = new TestSchema('relay_poll');
  let app: INestApplicationContext;
  let oban: Oban;
  before(async () => {
    app = await createApp({
      oban: { connection: DATABASE_URL, prefix: schema.prefix, migrate: true, queues: {}, stageInterval: 200 },
      providers: [ParkedWorker],
    });
    oban = app.get(Oban);
  });
  after(async () => {
    await app?.close();
    await schema.drop();
  });

  it('a job finished with its notification suppressed is found by the poll', async () => {
    const parked = await oban.insert(ParkedWorker, {});
    const waiting = oban.awaitJob(parked, { timeout: 10_000 });
    await waitFor('marked', async () => (await oban.getJob(parked.id))?.meta.relay === true);
    // Finished the way another tool might, with the relay trigger off: no NOTIFY is sent.
    await schema.query(`ALTER TABLE ${schema.jobs} DISABLE TRIGGER oban_jobs_relay`);
    try {
      await schema.query(
        `UPDATE ${schema.jobs} SET state = 'completed', completed_at = now(), result = '{"by": "hand"}' WHERE id = $1`,
        [parked.id],
      );
    } finally {
      await schema.query(`ALTER TABLE ${schema.jobs} ENABLE TRIGGER oban_jobs_relay`);
    }
    assert.deepEqual(await waiting, { by: 'hand' });
  });
});

describe('relay across nodes: the job runs in another node process', () => {
  const schema = new TestSchema('relay_nodes');
  const nodes: TestNode[] = [];
  let app: INestApplicationContext;
  let oban: Oban;
  before(async () => {
    await schema.query(`CREATE SCHEMA IF NOT EXISTS "${schema.prefix}"`);
    await schema.query(`CREATE TABLE "${schema.prefix}".runs (
      id bigserial PRIMARY KEY, job_id bigint NOT NULL, attempt int NOT NULL, node text NOT NULL,
      started_ms bigint NOT NULL, ended_ms bigint, pid int)`);
    // Insert-only here, polling only once an hour: the result comes from the other process's NOTIFY.
    app = await createApp({
      oban: { connection: DATABASE_URL, prefix: schema.prefix, migrate: true, queues: {}, stageInterval: 3_600_000 },
    });
    oban = app.get(Oban);
  });
  after(async () => {
    await killAll(nodes);
    await app?.close();
    await schema.drop();
  });

  it('relay resolves with the result the other node recorded', async () => {
    const node = startNode({ prefix: schema.prefix, databaseUrl: DATABASE_URL, oban: { queues: { default: 2 } } });
    nodes.push(node);
    await node.ready;
    const result = await oban.relay('RecordWorker', { ms: 50 }, { queue: 'default', timeout: 20_000 });
    assert.deepEqual(result, { node: node.node });
    await node.stop();
  });
});
