import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type INestApplicationContext, Injectable, Module } from '@nestjs/common';
import { Column, DataSource, type DataSourceOptions, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { type Job, Oban, type ObanModuleOptions, Worker } from '../../lib';
import { createApp } from './app';
import { waitFor } from './wait';

@Entity('behaviour_accounts')
export class Account {
  @PrimaryGeneratedColumn()
  id: number;

  @Column({ type: 'text' })
  email: string;
}

@Injectable()
class Calls {
  attempts = new Map<string, number>();
}

@Worker({ queue: 'default', backoff: 0 })
class EchoWorker {
  constructor(private readonly calls: Calls) {}
  perform(job: Job<{ word: string; failTimes?: number }>) {
    const n = (this.calls.attempts.get(job.args.word) ?? 0) + 1;
    this.calls.attempts.set(job.args.word, n);
    if (n <= (job.args.failTimes ?? 0)) throw new Error(`failing ${job.args.word} on attempt ${n}`);
    return { echo: job.args.word, attempt: job.attempt };
  }
}

@Module({ providers: [Calls, EchoWorker] })
class EchoModule {}

export interface Backend {
  /** ObanModule options that select the backend (connection, prefix, pglite...). */
  oban: ObanModuleOptions;
  /** TypeORM options on the same database. */
  typeorm: DataSourceOptions;
  cleanup(): Promise<void>;
}

/**
 * The core behaviours every backend must show the same: a job runs and keeps
 * its result, a failure is retried, a scheduled job waits for its time, and
 * an insert inside a TypeORM transaction lives or dies with it.
 */
export function behaviourSuite(name: string, makeBackend: () => Promise<Backend>): void {
  describe(`core behaviour on ${name}`, () => {
    let backend: Backend;
    let app: INestApplicationContext;
    let oban: Oban;
    let dataSource: DataSource;
    const finished = (id: number) =>
      waitFor(`job ${id} to finish`, async () => {
        const job = await oban.getJob(id);
        return job && ['completed', 'discarded', 'cancelled'].includes(job.state) ? job : null;
      });

    before(async () => {
      backend = await makeBackend();
      // Oban first: its migration creates the schema the Postgres DataSource syncs into.
      app = await createApp({ oban: { ...backend.oban, queues: { default: 5 } }, imports: [EchoModule] });
      dataSource = await new DataSource({
        ...backend.typeorm,
        entities: [Account],
        synchronize: true,
      } as DataSourceOptions).initialize();
      oban = app.get(Oban);
    });
    after(async () => {
      await app?.close();
      await dataSource?.destroy();
      await backend?.cleanup();
    });

    it('runs an inserted job and keeps its result', async () => {
      const job = await oban.insert(EchoWorker, { word: 'hello' });
      const done = await finished(job.id);
      assert.equal(done.state, 'completed');
      assert.deepEqual(done.result, { echo: 'hello', attempt: 1 });
    });

    it('retries a failed attempt and records its error', async () => {
      const job = await oban.insert(EchoWorker, { word: 'flaky', failTimes: 1 });
      const done = await finished(job.id);
      assert.equal(done.state, 'completed');
      assert.equal(done.attempt, 2);
      assert.equal(done.errors.length, 1);
      assert.match(done.errors[0].error, /failing flaky on attempt 1/);
    });

    it('runs a scheduled job only once it is due', async () => {
      const job = await oban.insert(EchoWorker, { word: 'later' }, { scheduleIn: 1 });
      assert.equal(job.state, 'scheduled');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal((await oban.getJob(job.id))?.state, 'scheduled');
      const done = await finished(job.id);
      assert.equal(done.state, 'completed');
      assert.ok(done.attemptedAt!.getTime() >= job.scheduledAt.getTime());
    });

    it('drops a job inserted in a transaction that rolls back, and runs one whose transaction commits', async () => {
      let rolledBack: Job | undefined;
      await assert.rejects(
        dataSource.transaction(async (manager) => {
          await manager.save(Account, { email: 'gone@example.com' });
          rolledBack = await oban.insert(EchoWorker, { word: 'never' }, { manager });
          throw new Error('abort the transaction');
        }),
        /abort the transaction/,
      );
      const committed = await dataSource.transaction(async (manager) => {
        const account = await manager.save(Account, { email: 'kept@example.com' });
        return oban.insert(EchoWorker, { word: `account-${account.id}` }, { manager });
      });
      assert.equal((await finished(committed.id)).state, 'completed');
      assert.equal(await oban.getJob(rolledBack!.id), null);
      assert.equal(await dataSource.getRepository(Account).countBy({ email: 'gone@example.com' }), 0);
      assert.equal(await dataSource.getRepository(Account).countBy({ email: 'kept@example.com' }), 1);
    });
  });
}
