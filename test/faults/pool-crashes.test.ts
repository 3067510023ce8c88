import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { INestApplicationContext } from '@nestjs/common';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CrashingWorker, DiesOnCueWorker } from '../fixtures/faults-pool/faulty.module';
import { readEvents } from '../fixtures/pool/events';
import { TestSchema } from '../support/db';
import { alive, bootFaultsPoolApp, settledAll } from '../support/faults-pool-app';
import { waitFor } from '../support/wait';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'nest-oban-faults-pool-'));
const fine = { crash: false, rounds: 1_000 };

describe('the process pool when worker processes die', () => {
  const schema = new TestSchema('faults_pool_crashes');
  let app: INestApplicationContext | undefined;

  afterEach(async () => {
    await app?.close();
    app = undefined;
    await schema.query(`DELETE FROM ${schema.jobs}`).catch(() => undefined);
  });
  after(async () => {
    delete process.env.POOL_EVENTS;
    rmSync(scratch, { recursive: true, force: true });
    await schema.drop();
  });

  it('charges only the job that killed its process; the jobs that shared the process are put back uncharged', async () => {
    const booted = await bootFaultsPoolApp(schema, { queues: { cpu: 20 }, processes: 1 });
    app = booted.app;
    const { oban } = booted;
    const jobs = await oban.insertAll(
      Array.from({ length: 40 }, (_, i) => ({ worker: CrashingWorker, args: { crash: i % 5 === 4, rounds: 20_000 } })),
    );
    const done = await settledAll(
      oban,
      jobs.map((j) => j.id),
      120_000,
    );

    for (const [i, job] of done.entries()) {
      assert.equal(job.state, 'completed', `job ${job.id} completed`);
      if (i % 5 === 4) {
        assert.equal(job.attempt, 2, `crashing job ${job.id} was charged for its crash once`);
        assert.equal(job.errors.length, 1);
        assert.match(
          job.errors[0].error,
          /WorkerProcessExitError: worker process \d+ was killed by SIGKILL while running this job/,
        );
      } else {
        assert.equal(job.attempt, 1, `innocent job ${job.id} was never charged`);
        assert.deepEqual(job.errors, [], `innocent job ${job.id} has no error`);
      }
    }
    const [pool] = await oban.checkProcesses();
    assert.ok(pool.pid && alive(pool.pid), 'a worker process is running again');
  });

  it('survives a process that dies while the main process answers and dispatches to it; its jobs go on', async () => {
    const events = path.join(scratch, 'events.jsonl');
    process.env.POOL_EVENTS = events;
    const booted = await bootFaultsPoolApp(schema, { queues: { cpu: 20 }, processes: 1 });
    app = booted.app;
    const { oban } = booted;
    const [before] = await oban.checkProcesses();
    const cue = path.join(scratch, 'cue');
    const dying = await oban.insert(DiesOnCueWorker, { cue, calls: 5 });
    await waitFor('the dying job to start', () => readEvents(events).some((e) => e.job === dying.id));
    const held = await oban.insertAll(Array.from({ length: 15 }, () => ({ worker: CrashingWorker, args: fine })));
    await waitFor('the process to hold them', async () => (await oban.checkProcesses())[0].running === 16);
    const racing = await oban.insertAll(Array.from({ length: 4 }, () => ({ worker: CrashingWorker, args: fine })));
    // The process dies while this event loop is blocked: once it runs again, the
    // answers to its calls (and maybe new jobs) go to a dead channel.
    writeFileSync(cue, '');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);

    const [died, ...others] = await settledAll(
      oban,
      [dying, ...held, ...racing].map((j) => j.id),
    );
    assert.equal(died.state, 'completed');
    assert.equal(died.attempt, 2, 'the job that died was charged once');
    assert.match(died.errors[0].error, /worker process \d+ was killed by SIGKILL while running this job/);
    for (const job of others) {
      assert.equal(job.state, 'completed', `job ${job.id} completed`);
      assert.equal(job.attempt, 1, `job ${job.id} was not charged`);
    }
    const later = await oban.insert(CrashingWorker, fine);
    const [finished] = await settledAll(oban, [later.id]);
    const [after] = await oban.checkProcesses();
    assert.notEqual(after.pid, before.pid, 'the process that died was replaced');
    assert.equal((finished.result as { pid: number }).pid, after.pid, 'later jobs run in the replacement');
  });
});
