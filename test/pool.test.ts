import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Module } from '@nestjs/common';
import { Oban, Worker, type ObanModuleOptions } from '../lib';
import { createApp } from './support/app';
import { DATABASE_URL, TestSchema } from './support/db';
import { waitFor } from './support/wait';
import { readEvents } from './fixtures/pool/events';
import {
  FanOutWorker,
  FaultWorker,
  HashWorker,
  MainWorker,
  NapWorker,
  TimedSpinWorker,
} from './fixtures/pool/heavy.module';
import { PoolAppModule, poolOptions } from './fixtures/pool/pool-app.module';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'nest-oban-pool-'));
let eventsFile = '';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('multi-process execution', () => {
  const schema = new TestSchema('pool');
  let app: INestApplicationContext | undefined;
  let runs = 0;

  async function boot(
    options: ObanModuleOptions,
  ): Promise<{ app: INestApplicationContext; oban: Oban; pids: number[] }> {
    eventsFile = path.join(scratch, `events-${++runs}.jsonl`);
    process.env.POOL_EVENTS = eventsFile;
    poolOptions.current = {
      connection: DATABASE_URL,
      prefix: schema.prefix,
      migrate: true,
      stageInterval: 100,
      ...options,
    };
    app = await NestFactory.createApplicationContext(PoolAppModule, { logger: ['error'] });
    const oban = app.get(Oban);
    const pids = (await oban.checkProcesses()).map((p) => p.pid!);
    return { app, oban, pids };
  }

  const settled = (oban: Oban, id: number) =>
    waitFor(
      `job ${id} to settle`,
      async () => {
        const job = await oban.getJob(id);
        return job && ['completed', 'discarded', 'cancelled'].includes(job.state) ? job : null;
      },
      { timeout: 30_000 },
    );

  afterEach(async () => {
    await app?.close();
    app = undefined;
    delete process.env.POOL_FAIL_BOOT;
    await schema.query(`DELETE FROM ${schema.jobs}`).catch(() => undefined);
  });
  after(async () => {
    await schema.drop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('runs cpu workers in worker processes with DI, globals and once-per-process hooks; others in the main process', async () => {
    const { oban, pids } = await boot({
      queues: { cpu: 4 },
      processes: 2,
      processExecArgv: ['--max-old-space-size=300'],
    });
    assert.equal(pids.length, 2);
    assert.ok(pids.every((pid) => pid !== process.pid && alive(pid)));
    const hashes = await oban.insertAll(
      Array.from({ length: 6 }, (_, i) => ({ worker: HashWorker, args: { rounds: 1_000 + i } })),
    );
    const main = await oban.insert(MainWorker, {});
    const done = await Promise.all(hashes.map((j) => settled(oban, j.id)));
    for (const job of done) {
      const result = job.result as {
        digest: string;
        pid: number;
        loaded: boolean;
        greeting: string;
        execArgv: string[];
      };
      assert.equal(job.state, 'completed');
      assert.ok(pids.includes(result.pid), `ran in a worker process (${result.pid})`);
      assert.equal(result.loaded, true, 'the injected service was set up in onModuleInit of that process');
      assert.equal(result.greeting, 'hello from the root', 'a global module of the root is there too');
      assert.match(result.digest, /^[0-9a-f]{64}$/);
      assert.ok(result.execArgv.includes('--max-old-space-size=300'), 'processExecArgv reached the process');
      assert.ok(result.execArgv.join(' ').includes('ts-node'), 'and it kept the flags it inherits');
    }
    assert.equal(((await settled(oban, main.id)).result as { pid: number }).pid, process.pid);

    const events = readEvents(eventsFile);
    for (const pid of pids) {
      const mine = events.filter((e) => e.pid === pid).map((e) => e.event);
      assert.deepEqual(mine, ['onModuleInit', 'onApplicationBootstrap'], `hooks of ${pid} ran once at start`);
    }
    await app!.close();
    app = undefined;
    const after = readEvents(eventsFile);
    for (const pid of pids) {
      const teardown = after.filter((e) => e.pid === pid && /Destroy|Shutdown/.test(e.event)).map((e) => e.event);
      assert.deepEqual(teardown, ['onModuleDestroy', 'beforeApplicationShutdown'], `teardown hooks of ${pid} ran once`);
      assert.equal(alive(pid), false, `worker process ${pid} is gone`);
    }
  });

  it("starts jobs with V8's young generation at its initial size, not as large as the Nest boot left it", async () => {
    // Booting grows it to 16-32 MB and V8 never shrinks it on its own; short-lived
    // objects (a SHA-256 chain) then ran ~1.2x slower than in a bare process.
    const { oban } = await boot({ queues: { cpu: 1 }, processes: 1 });
    const job = await settled(oban, (await oban.insert(HashWorker, { rounds: 10 })).id);
    const { youngGeneration } = job.result as { youngGeneration: number };
    assert.ok(youngGeneration <= 4 * 2 ** 20, `young generation at the first job: ${youngGeneration / 2 ** 20} MB`);
  });

  it('keeps one concurrency budget: 2 processes and limit 3 never run more than 3 jobs, and both get work', async () => {
    const { oban, pids } = await boot({ queues: { cpu: 3 }, processes: 2 });
    const jobs = await oban.insertAll(Array.from({ length: 12 }, () => ({ worker: NapWorker, args: { ms: 150 } })));
    await Promise.all(jobs.map((j) => settled(oban, j.id)));
    const events = readEvents(eventsFile).filter((e) => e.event === 'start' || e.event === 'end');
    let running = 0;
    let most = 0;
    for (const e of events.sort((a, b) => a.at - b.at || (a.event === 'end' ? -1 : 1))) {
      running += e.event === 'start' ? 1 : -1;
      most = Math.max(most, running);
    }
    assert.equal(most, 3, 'at most the queue limit ran at once');
    const byPid = new Set(events.filter((e) => e.event === 'start').map((e) => e.pid));
    assert.deepEqual([...byPid].sort(), [...pids].sort(), 'both processes got jobs');
    const perProcess = pids.map((pid) => events.filter((e) => e.event === 'start' && e.pid === pid).length);
    assert.ok(
      perProcess.every((n) => n >= 4),
      `spread by load: ${perProcess}`,
    );
  });

  it('a process that exits, crashes or is killed fails the jobs it held with the cause, retries them, and is replaced', async () => {
    const { oban, pids } = await boot({ queues: { cpu: 2 }, processes: 1 });
    const exit = await settled(oban, (await oban.insert(FaultWorker, { how: 'exit' })).id);
    assert.equal(exit.state, 'discarded', 'both attempts exited');
    assert.match(
      exit.errors[0].error,
      /WorkerProcessExitError: worker process \d+ exited with code 3 while running this job/,
    );

    const uncaught = await settled(oban, (await oban.insert(FaultWorker, { how: 'uncaught' }, { maxAttempts: 1 })).id);
    assert.match(
      uncaught.errors[0].error,
      /exited with code 1 while running this job \(Error: native decoder blew up\)/,
    );

    const spinning = await oban.insert(FaultWorker, { how: 'spin' }, { maxAttempts: 1 });
    await waitFor('the spinning job to start', () => readEvents(eventsFile).some((e) => e.job === spinning.id));
    const [victim] = (await oban.checkProcesses()).map((p) => p.pid!);
    process.kill(victim, 'SIGKILL');
    const killed = await settled(oban, spinning.id);
    assert.match(
      killed.errors[0].error,
      new RegExp(`worker process ${victim} was killed by SIGKILL while running this job`),
    );

    const [replacement] = await waitFor('a ready replacement', async () => {
      const stats = await oban.checkProcesses();
      return stats[0]?.ready && stats[0].pid !== victim && stats;
    });
    assert.ok(!pids.includes(replacement.pid!), 'a new process took the slot');
    const ok = await settled(oban, (await oban.insert(FaultWorker, { how: 'ok' })).id);
    assert.equal((ok.result as { pid: number }).pid, replacement.pid);
  });

  it('cancelling a job in a worker process kills its process; the other jobs there go back without losing an attempt', async () => {
    // No polling to help: the released job must be picked up again because it was released.
    const { oban } = await boot({ queues: { cpu: 3 }, processes: 1, stageInterval: 60_000 });
    const neighbour = await oban.insert(NapWorker, { ms: 1_500 });
    await waitFor('the neighbour to start', () => readEvents(eventsFile).some((e) => e.job === neighbour.id));
    const [before] = await oban.checkProcesses();
    const spin = await oban.insert(FaultWorker, { how: 'spin' }, { maxAttempts: 1 });
    await waitFor('the spin to start', () => readEvents(eventsFile).some((e) => e.job === spin.id));
    await oban.cancelJob(spin.id);
    const cancelled = await settled(oban, spin.id);
    assert.equal(cancelled.state, 'cancelled', 'cancelling a job in a worker process stops it');
    const done = await settled(oban, neighbour.id);
    assert.equal(done.state, 'completed');
    assert.equal(done.attempt, 1, 'the neighbour was put back, not charged');
    assert.deepEqual(done.errors, []);
    assert.notEqual((done.result as { pid: number }).pid, before.pid, 'it ran again in the replacement');
    const starts = readEvents(eventsFile).filter((e) => e.job === neighbour.id && e.event === 'start');
    assert.equal(starts.length, 2);
    assert.ok(starts[1].at >= readEvents(eventsFile).find((e) => e.job === spin.id)!.at, 'never twice at once');
  });

  it('timeouts stop CPU-bound code by killing its process', async () => {
    const { oban } = await boot({ queues: { cpu: 2 }, processes: 1 });
    const job = await settled(oban, (await oban.insert(TimedSpinWorker, {})).id);
    assert.equal(job.state, 'discarded');
    assert.match(job.errors[0].error, /JobTimeoutError: TimedSpinWorker job \d+ timed out after 500 ms/);
    await waitFor('a ready replacement', async () => (await oban.checkProcesses())[0]?.ready);
  });

  it('a process that cannot start is never handed jobs: it backs off, reports, and recovers', async () => {
    const marker = path.join(scratch, 'fail-boot');
    process.env.POOL_FAIL_BOOT = marker;
    const { oban } = await boot({ queues: { cpu: 2 }, processes: 1 });
    writeFileSync(marker, 'x'); // replacements now fail in onModuleInit
    const [first] = await oban.checkProcesses();
    process.kill(first.pid!, 'SIGKILL');
    await waitFor('the pool to see it gone', async () => (await oban.checkProcesses())[0]?.pid !== first.pid);
    const waiting = await oban.insert(HashWorker, { rounds: 10 });
    const failedBoots = await waitFor(
      'two failed boots',
      () => {
        const failed = readEvents(eventsFile).filter((e) => e.event === 'bootFailed');
        return failed.length >= 2 && failed;
      },
      { timeout: 30_000 },
    );
    const meanwhile = await oban.getJob(waiting.id);
    assert.equal(meanwhile?.state, 'executing', 'the job waits for a process that booted');
    assert.deepEqual(meanwhile?.errors, [], 'no failure was charged to it');
    rmSync(marker);
    const done = await settled(oban, waiting.id);
    assert.equal(done.state, 'completed');
    assert.equal(done.attempt, 1);
    const ranIn = (done.result as { pid: number }).pid;
    assert.ok(!failedBoots.some((e) => e.pid === ranIn), 'it ran in a process that booted');
  });

  it('fails the app boot, saying which worker and why, when a worker process cannot load it', async () => {
    const marker = path.join(scratch, 'fail-at-boot');
    writeFileSync(marker, 'x');
    process.env.POOL_FAIL_BOOT = marker;
    await assert.rejects(boot({ queues: { cpu: 2 }, processes: 1 }), (error: Error) => {
      assert.match(
        error.message,
        /a worker process for the cpu workers \(HashWorker, NapWorker, FaultWorker, FanOutWorker, TimedSpinWorker\) failed to start/,
      );
      assert.match(error.message, /the model file is missing/);
      return true;
    });
    rmSync(marker);
  });

  it('fails the app boot when the module declaring a cpu worker cannot be found, saying what to do', async () => {
    @Worker({ queue: 'cpu', cpu: true })
    class HiddenWorker {
      perform() {}
    }
    @Module({ providers: [HiddenWorker] })
    class UnexportedModule {}
    await assert.rejects(
      createApp({
        oban: { connection: DATABASE_URL, prefix: schema.prefix, migrate: true, queues: { cpu: 1 }, processes: 1 },
        imports: [UnexportedModule],
        logger: false,
      }),
      /failed to start: cannot find module UnexportedModule, which declares cpu worker HiddenWorker: export it from its file/,
    );
  });

  it('jobs in a worker process reach the main process through Oban', async () => {
    const { oban } = await boot({ queues: { cpu: 4 }, processes: 1 });
    const parent = await settled(oban, (await oban.insert(FanOutWorker, { children: 3 })).id);
    const { inserted } = parent.result as { inserted: number[] };
    assert.equal(inserted.length, 3);
    for (const id of inserted) assert.equal((await settled(oban, id)).state, 'completed');
    const refused = await settled(
      oban,
      (await oban.insert(FanOutWorker, { children: 0, withManager: true }, { maxAttempts: 1 })).id,
    );
    assert.match(refused.errors[0].error, /\{ manager \} is not available in a worker process/);
  });

  it('processes: 0 runs cpu workers in the main process', async () => {
    const { oban, pids } = await boot({ queues: { cpu: 2 }, processes: 0 });
    assert.deepEqual(pids, []);
    const job = await settled(oban, (await oban.insert(HashWorker, { rounds: 10 })).id);
    assert.equal((job.result as { pid: number }).pid, process.pid);
  });

  it('shutdown lets jobs in worker processes finish within the grace period, and leaves no process behind', async () => {
    const { app: booted, oban, pids } = await boot({ queues: { cpu: 2 }, processes: 2, shutdownGracePeriod: 5_000 });
    const nap = await oban.insert(NapWorker, { ms: 700 });
    await waitFor('the nap to start', () => readEvents(eventsFile).some((e) => e.job === nap.id));
    await booted.close();
    app = undefined;
    const [row] = await schema.query(`SELECT state FROM ${schema.jobs} WHERE id = $1`, [nap.id]);
    assert.equal(row.state, 'completed');
    assert.ok(pids.every((pid) => !alive(pid)));
  });

  it('shutdown past the grace period stops worker processes and puts their jobs back', async () => {
    const { app: booted, oban, pids } = await boot({ queues: { cpu: 2 }, processes: 1, shutdownGracePeriod: 300 });
    const spin = await oban.insert(FaultWorker, { how: 'spin' });
    await waitFor('the spin to start', () => readEvents(eventsFile).some((e) => e.job === spin.id));
    await booted.close();
    app = undefined;
    const [row] = await schema.query(`SELECT state, attempt FROM ${schema.jobs} WHERE id = $1`, [spin.id]);
    assert.deepEqual(row, { state: 'available', attempt: 0 });
    assert.ok(pids.every((pid) => !alive(pid)));
  });
});
