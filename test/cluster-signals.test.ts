import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type INestApplicationContext, Module } from '@nestjs/common';
import { Oban, Worker, type Job } from '../lib';
import { createApp } from './support/app';
import { DATABASE_URL, TestSchema } from './support/db';
import { sleep, waitFor } from './support/wait';

@Worker({ queue: 'media' })
class ThumbnailWorker {
  perform(job: Job<{ n: number }>) {
    return { n: job.args.n };
  }
}

@Module({ providers: [ThumbnailWorker] })
class MediaModule {}

describe('queue signals and state across nodes', () => {
  const schema = new TestSchema('cluster_signals');
  const apps: INestApplicationContext[] = [];
  before(() => schema.migrate());
  after(async () => {
    for (const app of apps) await app.close();
    await schema.drop();
  });
  const base = {
    connection: DATABASE_URL,
    prefix: schema.prefix,
    heartbeatInterval: 100,
    leaderTtl: 400,
    nodeTtl: 1_000,
  };
  const worker = async () => {
    const app = await createApp({ oban: { ...base, queues: { media: 2 } }, imports: [MediaModule] });
    apps.push(app);
    return app.get(Oban);
  };
  let control: Oban; // an insert-only node without the worker: it knows 'media' only from the cluster
  let b: Oban;

  before(async () => {
    b = await worker();
    const app = await createApp({ oban: { ...base, queues: {} } });
    apps.push(app);
    control = app.get(Oban);
  });

  it('an insert-only node enqueues by worker name for a queue another node runs', async () => {
    const job = await control.insert('ThumbnailWorker', { n: 1 }, { queue: 'media' });
    await waitFor('the job ran on the worker node', async () => (await control.getJob(job.id))?.state === 'completed');
    // A queue no live node runs is not refused (issue: enqueue never depends on a consumer being alive).
    const waiting = await control.insert('ThumbnailWorker', { n: 2 }, { queue: 'nowhere' });
    assert.equal((await control.getJob(waiting.id))?.state, 'available');
    await assert.rejects(control.pauseQueue('nowhere'), /pauseQueue: unknown queue "nowhere": no live node runs it/);
  });

  it('pause from one node stops the others within a second; a node started later starts paused', async () => {
    await control.pauseQueue('media');
    await waitFor('B paused', () => b.checkQueue('media')?.paused, { timeout: 2_000, interval: 10 });
    const job = await control.insert('ThumbnailWorker', { n: 3 }, { queue: 'media' });
    const late = await worker();
    assert.equal(late.checkQueue('media')?.paused, true, 'the late node read the pause at boot');
    await sleep(600);
    assert.equal((await control.getJob(job.id))?.state, 'available', 'no paused node ran it');

    await control.resumeQueue('media');
    await waitFor('both resumed', () => !b.checkQueue('media')?.paused && !late.checkQueue('media')?.paused, {
      timeout: 2_000,
      interval: 10,
    });
    await waitFor('the job ran after resume', async () => (await control.getJob(job.id))?.state === 'completed');
  });

  it('scale from one node reaches every node, and nodes started later', async () => {
    await control.scaleQueue('media', 7);
    await waitFor('B scaled', () => b.checkQueue('media')?.limit === 7, { timeout: 2_000, interval: 10 });
    const late = await worker();
    assert.equal(late.checkQueue('media')?.limit, 7);
    assert.equal(late.checkQueue('media')?.paused, false, 'resumed state remembered too');
    await assert.rejects(control.scaleQueue('media', 0), /scaleQueue\('media'\): limit must be a whole number >= 1/);
  });
});
