import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Injectable, Module, type INestApplicationContext } from '@nestjs/common';
import { Oban, Worker, type Job } from '../lib';
import { createApp } from './support/app';
import { DATABASE_URL, TestSchema } from './support/db';
import { waitFor } from './support/wait';

@Injectable()
class Greeter {
  greet(name: string) {
    return `hello ${name}`;
  }
}

@Worker({ queue: 'default' })
class GreetWorker {
  constructor(private readonly greeter: Greeter) {}
  async perform(job: Job<{ name: string }>) {
    return { greeting: this.greeter.greet(job.args.name) };
  }
}

@Module({ providers: [Greeter, GreetWorker] })
class GreetModule {}

describe('smoke', () => {
  const schema = new TestSchema('smoke');
  let app: INestApplicationContext;
  before(async () => {
    app = await createApp({
      oban: { connection: DATABASE_URL, prefix: schema.prefix, migrate: true, queues: { default: 5 } },
      imports: [GreetModule],
    });
  });
  after(async () => {
    await app?.close();
    await schema.drop();
  });

  it('runs a job and keeps its result', async () => {
    const oban = app.get(Oban);
    const job = await oban.insert(GreetWorker, { name: 'ada' });
    assert.equal(job.state, 'available');
    const done = await waitFor('completion', async () => {
      const j = await oban.getJob(job.id);
      return j?.state === 'completed' ? j : null;
    });
    assert.deepEqual(done.result, { greeting: 'hello ada' });
    assert.equal(done.attempt, 1);
  });
});
