import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { INestApplicationContext } from '@nestjs/common';
import { AwkwardResultWorker, type ResultKind, SleepyWorker } from '../fixtures/faults-pool/faulty.module';
import { TestSchema } from '../support/db';
import { bootFaultsPoolApp, settledAll } from '../support/faults-pool-app';

describe('results of jobs in worker processes that IPC cannot carry', () => {
  const schema = new TestSchema('faults_pool_results');
  let app: INestApplicationContext | undefined;

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });
  after(() => schema.drop());

  it('fails only the job whose result has no JSON form, stores the JSON form of the others, and keeps the process', async () => {
    const booted = await bootFaultsPoolApp(schema, { queues: { cpu: 10 }, processes: 1 });
    app = booted.app;
    const { oban } = booted;
    const [before] = await oban.checkProcesses();
    // Sleepers first, so the process holds them while the awkward results come back.
    const sleepers = await oban.insertAll(
      Array.from({ length: 5 }, () => ({ worker: SleepyWorker, args: { ms: 400 } })),
    );
    const kinds: ResultKind[] = ['toJSON-throws', 'getter-throws', 'own-toJSON', 'getter-behind-toJSON'];
    const awkward = await oban.insertAll(kinds.map((kind) => ({ worker: AwkwardResultWorker, args: { kind } })));
    const [toJsonThrows, getterThrows, ownToJson, getterBehindToJson] = await settledAll(
      oban,
      awkward.map((j) => j.id),
    );

    assert.equal(toJsonThrows.state, 'discarded');
    assert.match(
      toJsonThrows.errors[0].error,
      /^ResultNotJsonError: AwkwardResultWorker\.perform returned a value nest-oban cannot store: .*toJSON.* threw Error: the report is not finished$/,
    );
    assert.equal(getterThrows.state, 'discarded');
    assert.match(getterThrows.errors[0].error, /^ResultNotJsonError: .* threw Error: count is not loaded$/);
    assert.equal(ownToJson.state, 'completed', 'a result with its own toJSON is stored as its JSON form');
    assert.deepEqual(ownToJson.result, { amount: '12.50' });
    assert.equal(
      getterBehindToJson.state,
      'completed',
      'a getter that only structured clone would call is never called',
    );
    assert.deepEqual(getterBehindToJson.result, { total: 'on demand' });

    for (const job of await settledAll(
      oban,
      sleepers.map((j) => j.id),
    )) {
      assert.equal(job.state, 'completed', `neighbour ${job.id} completed`);
      assert.equal(job.attempt, 1);
      assert.deepEqual(job.errors, []);
      assert.equal((job.result as { pid: number }).pid, before.pid, 'in the same process');
    }
    const [now] = await oban.checkProcesses();
    assert.equal(now.pid, before.pid, 'the process was never restarted');
  });
});
