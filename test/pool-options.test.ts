import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Oban } from '../lib';
import { resolveConfig } from '../lib/config/config';
import { DATABASE_URL, TestSchema } from './support/db';
import { waitFor } from './support/wait';
import {
  ExcludeAppModule,
  ExpensiveModule,
  ProbeWorker,
  bootedIn,
  excludeOptions,
} from './fixtures/pool-exclude/app.module';

/** Boots the fixture app with these extra options; one worker process. */
async function boot(schema: TestSchema, extra: object): Promise<INestApplicationContext> {
  excludeOptions.current = {
    connection: DATABASE_URL,
    prefix: schema.prefix,
    migrate: true,
    queues: { probe: 2 },
    processes: 1,
    stageInterval: 100,
    logLevel: 'warn',
    ...extra,
  };
  return NestFactory.createApplicationContext(ExcludeAppModule, { logger: ['error'], abortOnError: false });
}

async function probe(app: INestApplicationContext) {
  const oban = app.get(Oban);
  const job = await oban.insert(ProbeWorker, {});
  await waitFor('the probe ran', async () => (await oban.getJob(job.id))?.state === 'completed', { timeout: 20_000 });
  return (await oban.getJob(job.id))!.result as { pid: number; expensiveBooted: boolean; debugPort: number };
}

/** The debugger's target list on a port (Node's inspector answers /json/list over HTTP). */
async function inspectorTargets(port: number): Promise<Array<{ url: string }>> {
  const response = await fetch(`http://127.0.0.1:${port}/json/list`);
  return (await response.json()) as Array<{ url: string }>;
}

function freePorts(count: number): Promise<number> {
  // A free block of `count` ports: the first one free, and the next ones checked too.
  const tryFrom = (port: number): Promise<boolean> =>
    new Promise((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
  return (async () => {
    for (let base = 20_000 + (process.pid % 2_000) * 10; base < 60_000; base += 10) {
      const all = await Promise.all(Array.from({ length: count }, (_, i) => tryFrom(base + i)));
      if (all.every(Boolean)) return base;
    }
    throw new Error('no free port block');
  })();
}

describe('processExclude: a global module left out of the worker processes', () => {
  const schema = new TestSchema('pool_exclude');
  after(() => schema.drop());

  it('by default a worker process boots the global module too (what the option avoids)', async () => {
    const app = await boot(schema, {});
    try {
      const result = await probe(app);
      assert.notEqual(result.pid, process.pid, 'ran in a worker process');
      assert.equal(result.expensiveBooted, true);
    } finally {
      await app.close();
    }
  });

  it('left out (by class): the worker process runs the job without it; the main process still has it', async () => {
    bootedIn.length = 0;
    const app = await boot(schema, { processExclude: [ExpensiveModule] });
    try {
      const result = await probe(app);
      assert.notEqual(result.pid, process.pid);
      assert.equal(result.expensiveBooted, false, 'the core module it imports was left out with it');
      assert.deepEqual(bootedIn, [process.pid]);
    } finally {
      await app.close();
    }
  });

  it('a name that is no module of the app fails the boot, naming it', async () => {
    await assert.rejects(boot(schema, { processExclude: ['TypeOrmModul'] }), (error: Error) => {
      assert.match(error.message, /processExclude: TypeOrmModul is not a module of the app/);
      return true;
    });
  });

  it('checks the option', () => {
    assert.throws(
      () => resolveConfig({ processExclude: [42 as any] }),
      /processExclude\[0\] must be a module class or its name, got 42/,
    );
    assert.throws(() => resolveConfig({ processExclude: 'X' as any }), /processExclude must be an array/);
    assert.deepEqual(resolveConfig({ processExclude: [ExpensiveModule, 'Other'] }).processExclude, [
      'ExpensiveModule',
      'Other',
    ]);
  });
});

describe('processInspect: a debugger port per worker process', () => {
  const schema = new TestSchema('pool_inspect');
  after(() => schema.drop());

  it('each worker process listens on its own port, from the one given', async () => {
    const base = await freePorts(2);
    const app = await boot(schema, { processes: 2, processInspect: base });
    try {
      for (const port of [base, base + 1]) {
        const targets = await inspectorTargets(port);
        assert.equal(targets.length, 1, `one target on ${port}`);
        assert.match(targets[0].url, /pool\/child\/main\.(ts|js)$/, 'the target is a worker process');
      }
      const result = await probe(app);
      assert.ok(
        [base, base + 1].includes(result.debugPort),
        `the job ran in a process debugged on ${result.debugPort}`,
      );
    } finally {
      await app.close();
    }
  });

  it('reads env OBAN_PRO_INSPECT; true is the main debug port + 1; off by default', () => {
    assert.equal(resolveConfig({}, {}).processInspectPort, undefined);
    assert.equal(resolveConfig({}, { OBAN_PRO_INSPECT: '9300' }).processInspectPort, 9300);
    assert.equal(resolveConfig({}, { OBAN_PRO_INSPECT: 'true' }).processInspectPort, process.debugPort + 1);
    assert.equal(resolveConfig({ processInspect: true }, {}).processInspectPort, process.debugPort + 1);
    assert.equal(resolveConfig({ processInspect: false }, { OBAN_PRO_INSPECT: '9300' }).processInspectPort, undefined);
    assert.throws(() => resolveConfig({}, { OBAN_PRO_INSPECT: 'yes' }), /env OBAN_PRO_INSPECT must be true or a port/);
    assert.throws(
      () => resolveConfig({ processInspect: 80 }),
      /processInspect must be true or a port from 1024 to 65000/,
    );
  });
});
