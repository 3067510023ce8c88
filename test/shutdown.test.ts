import { after, describe, it } from 'node:test';
import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import * as path from 'node:path';
import { Oban, Worker, type Job, type PerformContext } from '../lib';
import { createApp } from './support/app';
import { DATABASE_URL, TestSchema } from './support/db';
import { waitFor } from './support/wait';

@Worker({ queue: 'grace' })
class GraceWorker {
  static aborts: unknown[] = [];
  async perform(job: Job<{ ms: number }>, { signal }: PerformContext) {
    signal.addEventListener('abort', () => GraceWorker.aborts.push(signal.reason));
    await new Promise((resolve) => setTimeout(resolve, job.args.ms));
    return 'finished';
  }
}

/** A service of the root module, torn down at shutdown: a job using it must finish before it goes. */
@Injectable()
class LedgerService implements OnModuleDestroy {
  closed = false;
  record(n: number) {
    if (this.closed) throw new Error('LedgerService used after its onModuleDestroy');
    return `recorded ${n}`;
  }
  onModuleDestroy() {
    this.closed = true;
  }
}

@Worker({ queue: 'grace' })
class LedgerWorker {
  constructor(private readonly ledger: LedgerService) {}
  async perform(job: Job<{ ms: number }>) {
    await new Promise((resolve) => setTimeout(resolve, job.args.ms));
    return this.ledger.record(job.args.ms);
  }
}

function runNode(prefix: string, mode: string) {
  const child = fork(path.join(__dirname, 'fixtures/shutdown-app.ts'), [prefix, mode], {
    execArgv: process.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const messages: any[] = [];
  child.on('message', (m) => messages.push(m));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, messages, exited };
}

describe('shutdown', () => {
  const schema = new TestSchema('shutdown');
  after(() => schema.drop());
  const oban = { connection: DATABASE_URL, prefix: schema.prefix, migrate: true };

  it('closes at once when nothing runs, even with a claim still under way', async () => {
    // Closing right after boot catches the first claim in flight. Waiting for it once spun the
    // event loop on a resolved promise, so the claim never returned and close took the whole grace period.
    const app = await createApp({ oban: { ...oban, queues: { grace: 2 }, shutdownGracePeriod: 15_000 } });
    const started = Date.now();
    await app.close();
    assert.ok(Date.now() - started < 5_000, `close took ${Date.now() - started} ms of a 15000 ms grace period`);
  });

  it('lets running jobs finish within the grace period', async () => {
    const app = await createApp({
      oban: { ...oban, queues: { grace: 2 }, shutdownGracePeriod: 5_000 },
      providers: [GraceWorker],
    });
    const job = await app.get(Oban).insert(GraceWorker, { ms: 400 });
    await waitFor('the job to start', async () => (await app.get(Oban).getJob(job.id))?.state === 'executing');
    await app.close();
    const [row] = await schema.query(`SELECT state, result FROM ${schema.jobs} WHERE id = $1`, [job.id]);
    assert.equal(row.state, 'completed');
    assert.equal(row.result, 'finished');
  });

  it("finishes running jobs before the root module's own providers are torn down", async () => {
    const app = await createApp({
      oban: { ...oban, queues: { grace: 2 }, shutdownGracePeriod: 5_000 },
      providers: [LedgerService, LedgerWorker],
    });
    const job = await app.get(Oban).insert(LedgerWorker, { ms: 400 });
    await waitFor('the job to start', async () => (await app.get(Oban).getJob(job.id))?.state === 'executing');
    await app.close();
    const [row] = await schema.query(`SELECT state, result, errors FROM ${schema.jobs} WHERE id = $1`, [job.id]);
    assert.deepEqual([row.state, row.result], ['completed', 'recorded 400'], JSON.stringify(row.errors));
  });

  it('leaves a job still running after the grace period executing, for rescue, and aborts its signal', async () => {
    const app = await createApp({
      oban: { ...oban, queues: { grace: 2 }, shutdownGracePeriod: 200 },
      providers: [GraceWorker],
    });
    const job = await app.get(Oban).insert(GraceWorker, { ms: 3_000 });
    await waitFor('the job to start', async () => (await app.get(Oban).getJob(job.id))?.state === 'executing');
    const started = Date.now();
    await app.close();
    assert.ok(Date.now() - started < 2_500, 'close did not wait for the job');
    const [row] = await schema.query(`SELECT state FROM ${schema.jobs} WHERE id = $1`, [job.id]);
    assert.equal(row.state, 'executing');
    assert.equal((GraceWorker.aborts.at(-1) as Error)?.name, 'ShutdownError');
  });

  it('a process that closes its app exits on its own: no dangling handle', async () => {
    const node = runNode(schema.prefix, 'close');
    const exit = await Promise.race([
      node.exited,
      new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 20_000)),
    ]);
    if (exit === 'hung') node.child.kill('SIGKILL');
    assert.notEqual(exit, 'hung', 'the process kept running after app.close()');
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(node.messages.some((m) => m.event === 'closed'));
  });

  it('SIGTERM with enableShutdownHooks finishes the running job, then the process exits', async () => {
    const node = runNode(schema.prefix, 'sigterm');
    const started = await waitFor('the job to start', () => node.messages.find((m) => m.event === 'started'), {
      timeout: 20_000,
    });
    node.child.kill('SIGTERM');
    const exit = await node.exited;
    assert.equal(exit.code ?? 0, 0);
    const [row] = await schema.query(`SELECT state, result FROM ${schema.jobs} WHERE id = $1`, [started.id]);
    assert.equal(row.state, 'completed');
    assert.deepEqual(row.result, { slept: 1_000 });
  });
});
