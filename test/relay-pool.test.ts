import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Oban } from '../lib';
import { DATABASE_URL, TestSchema } from './support/db';
import {
  BuilderWorker,
  ComposeAppModule,
  EchoWorker,
  RelayingWorker,
  SplitWorker,
  composeOptions,
} from './fixtures/compose/compose-app.module';
import { waitFor } from './support/wait';

describe('relay, workflow status and batches from a worker process (cpu: true)', () => {
  const schema = new TestSchema('relay_pool');
  let app: INestApplicationContext;
  let oban: Oban;
  before(async () => {
    composeOptions.current = {
      connection: DATABASE_URL,
      prefix: schema.prefix,
      migrate: true,
      stageInterval: 100,
      queues: { cpu: 2, main: 2 },
      processes: 1,
    };
    app = await NestFactory.createApplicationContext(ComposeAppModule, { logger: ['error', 'warn'] });
    oban = app.get(Oban);
  });
  after(async () => {
    await app?.close();
    await schema.drop();
  });

  it('a cpu step relays a job to the main process, reads its workflow and grows a batch', async () => {
    const batch = await oban.batch().add(EchoWorker, { n: 0 }, { queue: 'parked' }).insert();
    const wf = await oban
      .workflow()
      .add('first', EchoWorker, { n: 1 })
      .add('crunch', RelayingWorker, { n: 21, batch: batch.id }, { deps: ['first'] })
      .insert();
    const result = (await oban.awaitJob(wf.jobs.crunch, { timeout: 60_000 })) as any;
    assert.notEqual(result.pid, process.pid, 'ran in a worker process');
    assert.deepEqual(result.echoed, { doubled: 42, pid: process.pid });
    assert.deepEqual(result.steps, ['crunch', 'first']);
    assert.equal(result.added, 1);
    assert.equal((await oban.batchStatus(batch.id))?.total, 2);
    assert.match(result.refused, /relay\(EchoWorker\): \{ signal \} is not available in a worker process/);
  });

  it('a cpu step appends jobs to its workflow; a step waiting for all it appended runs after them', async () => {
    const wf = await oban
      .workflow()
      .add('split', SplitWorker, { parts: 3 })
      .add('after', EchoWorker, { n: 9 }, { deps: [{ appendedBy: 'split' }] })
      .insert();
    const split = (await oban.awaitJob(wf.jobs.split, { timeout: 60_000 })) as any;
    assert.notEqual(split.pid, process.pid, 'ran in a worker process');
    assert.deepEqual(split.appended, ['part-0', 'part-1', 'part-2']);
    await waitFor('the workflow finished', async () => (await oban.workflowStatus(wf.id)).finished, {
      timeout: 30_000,
    });
    const jobs = await oban.workflowJobs(wf.id);
    assert.equal(jobs.length, 5);
    assert.ok(
      jobs.every((j) => j.state === 'completed'),
      JSON.stringify(jobs.map((j) => [j.meta.workflow_step, j.state])),
    );
    const after = jobs.find((j) => j.meta.workflow_step === 'after')!;
    for (const part of jobs.filter((j) => String(j.meta.workflow_step).startsWith('part-'))) {
      assert.ok(after.attemptedAt! >= part.completedAt!, `'after' started once ${part.meta.workflow_step} completed`);
    }
  });

  it('a cpu job builds a workflow and a batch with a callback; both run to the end', async () => {
    const job = await oban.insert(BuilderWorker, {});
    const built = (await oban.awaitJob(job, { timeout: 60_000 })) as any;
    assert.notEqual(built.pid, process.pid);
    assert.deepEqual([built.steps, built.members], [['one', 'two'], 2]);
    await waitFor('the workflow finished', async () => (await oban.workflowStatus(built.workflow)).finished, {
      timeout: 30_000,
    });
    assert.equal((await oban.workflowStatus(built.workflow)).states.completed, 2);
    const fired = await waitFor(
      'the onCompleted callback fired',
      async () => {
        const id = (await oban.batchStatus(built.batch))?.fired.onCompleted;
        return id && (await oban.getJob(id));
      },
      { timeout: 30_000 },
    );
    assert.equal(fired.worker, 'EchoWorker');
    assert.deepEqual(fired.args, { n: 100 });
    await waitFor('the callback run', async () => (await oban.getJob(fired.id))?.state === 'completed', {
      timeout: 30_000,
    });
  });

  it('a bad plan built in a worker process is refused there, naming the step and the dependency', async () => {
    const job = await oban.insert(BuilderWorker, { bad: true }, { maxAttempts: 1 });
    await assert.rejects(oban.awaitJob(job, { timeout: 60_000 }));
    const stored = await oban.getJob(job.id);
    assert.equal(stored?.state, 'discarded');
    assert.match(stored!.errors[0].error, /step 'b'.*'missing'|'missing'.*step 'b'/);
    // Args that are not JSON are refused before they cross to the main process, naming the step.
    const notJson = await oban.insert(BuilderWorker, { notJson: true }, { maxAttempts: 1 });
    await assert.rejects(oban.awaitJob(notJson, { timeout: 60_000 }));
    assert.match((await oban.getJob(notJson.id))!.errors[0].error, /workflow step 'a' \(EchoWorker\)/);
  });
});
