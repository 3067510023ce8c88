import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Oban } from '../lib';
import { DATABASE_URL, TestSchema } from './support/db';
import { ComposeAppModule, EchoWorker, RelayingWorker, composeOptions } from './fixtures/compose/compose-app.module';

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
    assert.match(result.noBuilder, /workflow\(\) is not available in a worker process/);
  });
});
