import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Injectable, Module } from '@nestjs/common';
import { Oban, Worker, type Job } from '../lib';
import { WorkerRegistry } from '../lib/worker/worker-registry';
import { createApp } from './support/app';
import { DATABASE_URL, TestSchema } from './support/db';
import { waitFor } from './support/wait';

@Injectable()
class Multiplier {
  times(n: number) {
    return n * 3;
  }
}

@Worker({ queue: 'math', maxAttempts: 4, priority: 2, tags: ['math'] })
class TripleWorker {
  constructor(private readonly multiplier: Multiplier) {}
  perform(job: Job<{ n: number }>) {
    return this.multiplier.times(job.args.n);
  }
}

@Module({ providers: [Multiplier, TripleWorker] })
class InnerModule {}

@Module({ imports: [InnerModule] })
class FeatureModule {}

describe('workers', () => {
  const schema = new TestSchema('workers');
  after(() => schema.drop());
  const oban = { connection: DATABASE_URL, prefix: schema.prefix, migrate: true };

  it('are discovered in nested modules, with constructor injection and their decorator defaults', async () => {
    const app = await createApp({ oban: { ...oban, queues: { math: 2 } }, imports: [FeatureModule] });
    try {
      const registered = app.get(WorkerRegistry).get('TripleWorker');
      assert.equal(registered?.hostModule, InnerModule);
      const job = await app.get(Oban).insert(TripleWorker, { n: 14 });
      assert.deepEqual([job.queue, job.maxAttempts, job.priority, job.tags], ['math', 4, 2, ['math']]);
      const done = await waitFor('completion', async () => {
        const j = await app.get(Oban).getJob(job.id);
        return j?.state === 'completed' && j;
      });
      assert.equal(done.result, 42);
    } finally {
      await app.close();
    }
  });

  it('a name given to @Worker is what is stored, and inserts by that name find the worker', async () => {
    @Worker({ name: 'billing.invoice', queue: 'math' })
    class InvoiceWorker {
      perform() {
        return 'sent';
      }
    }
    const app = await createApp({ oban: { ...oban, queues: { math: 2 } }, providers: [InvoiceWorker] });
    try {
      const job = await app.get(Oban).insert('billing.invoice', {});
      assert.equal(job.worker, 'billing.invoice');
      assert.equal(job.queue, 'math');
      await waitFor('completion', async () => (await app.get(Oban).getJob(job.id))?.state === 'completed');
    } finally {
      await app.close();
    }
  });

  it('two workers with one name fail at boot, naming both', async () => {
    @Worker({ name: 'Mailer' })
    class MailerA {
      perform() {}
    }
    @Worker({ name: 'Mailer' })
    class MailerB {
      perform() {}
    }
    @Module({ providers: [MailerA] })
    class ModuleA {}
    @Module({ providers: [MailerB] })
    class ModuleB {}
    await assert.rejects(
      createApp({ oban: { ...oban, queues: {} }, imports: [ModuleA, ModuleB], logger: false }),
      /two workers are named 'Mailer': MailerA in ModuleA and MailerB in ModuleB/,
    );
  });

  it('bad decorator options fail where the class is declared, naming it', () => {
    assert.throws(() => {
      @Worker({ maxAttempts: 0 })
      class ZeroAttempts {
        perform() {}
      }
      return ZeroAttempts;
    }, /@Worker\(\) on ZeroAttempts: maxAttempts must be an integer >= 1, got 0/);
    assert.throws(() => {
      @Worker({ priority: 12 })
      class TooLow {
        perform() {}
      }
      return TooLow;
    }, /@Worker\(\) on TooLow: priority must be an integer from 0 \(highest\) to 9, got 12/);
    assert.throws(() => {
      @Worker({ queue: 'bad queue' })
      class BadQueue {
        perform() {}
      }
      return BadQueue;
    }, /queue name "bad queue" is invalid/);
    assert.throws(() => {
      @Worker({ retries: 3 } as any)
      class Typo {
        perform() {}
      }
      return Typo;
    }, /@Worker\(\) on Typo: unknown option 'retries'/);
    assert.throws(() => {
      @Worker()
      class NoPerform {}
      return NoPerform;
    }, /@Worker\(\) on NoPerform: the class needs a perform\(job\) method/);
  });
});
