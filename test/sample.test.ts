import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { type INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Oban, ObanModule } from '../lib';
import { assertEnqueued, drainQueue, refuteEnqueued } from '../lib/testing';
import { HashWorker } from '../sample/reports/hash.worker';
import { ReportsModule } from '../sample/reports/reports.module';
import { User } from '../sample/users/user.entity';
import { UsersModule } from '../sample/users/users.module';
import { WelcomeEmailWorker } from '../sample/users/welcome-email.worker';
import { DATABASE_URL, TestSchema } from './support/db';

// The sample app's own tests, written with nest-oban/testing as its users would.

describe("sample: POST /users (testing: 'manual')", () => {
  const schema = new TestSchema('sample');
  let app: INestApplication;
  let base: string;
  before(async () => {
    await schema.query(`CREATE SCHEMA "${schema.prefix}"`);
    @Module({
      imports: [
        TypeOrmModule.forRoot({
          type: 'postgres',
          url: DATABASE_URL,
          schema: schema.prefix,
          entities: [User],
          synchronize: true,
        }),
        ObanModule.forRoot({
          connection: DATABASE_URL,
          prefix: schema.prefix,
          migrate: true,
          queues: { mail: 5, heavy: 2 },
          testing: 'manual',
        }),
        UsersModule,
        ReportsModule,
      ],
    })
    class SampleTestModule {}
    app = await NestFactory.create(SampleTestModule, { logger: ['error'] });
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });
  after(async () => {
    await app?.close();
    await schema.drop();
  });

  const post = (email: unknown) =>
    fetch(`${base}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email }),
    });

  it('creates the user and enqueues its welcome email; draining the queue sends it', async () => {
    const response = await post('ada@example.com');
    assert.equal(response.status, 201);
    const body = (await response.json()) as any;
    assert.equal(body.welcomeEmailJob.state, 'available');

    await assertEnqueued(app, { worker: WelcomeEmailWorker, queue: 'mail', args: { userId: body.user.id } });
    assert.deepEqual(await drainQueue(app, { queue: 'mail' }), {
      completed: 1,
      retryable: 0,
      discarded: 0,
      cancelled: 0,
      snoozed: 0,
    });
    const job = await app.get(Oban).getJob(body.welcomeEmailJob.id);
    assert.deepEqual(job?.result, { sentTo: 'ada@example.com' });
    const user = await app.get(DataSource).getRepository(User).findOneByOrFail({ id: body.user.id });
    assert.ok(user.welcomedAt instanceof Date);
  });

  it('answers 409 for a taken email, and the rolled-back transaction leaves no email job', async () => {
    assert.equal((await post('grace@example.com')).status, 201);
    await drainQueue(app, { queue: 'mail' });
    const again = await post('grace@example.com');
    assert.equal(again.status, 409);
    assert.match(((await again.json()) as any).message, /grace@example\.com exists already/);
    await refuteEnqueued(app, { worker: WelcomeEmailWorker });
  });

  it('answers 400 for a body without an email, enqueueing nothing', async () => {
    assert.equal((await post(42)).status, 400);
    await refuteEnqueued(app, { worker: WelcomeEmailWorker });
  });
});

describe("sample: HashWorker (testing: 'inline')", () => {
  let app: INestApplication;
  before(async () => {
    @Module({ imports: [ObanModule.forRoot({ queues: { heavy: 2 }, testing: 'inline' }), ReportsModule] })
    class HashTestModule {}
    app = await NestFactory.create(HashTestModule, { logger: ['error'] });
    await app.init();
  });
  after(async () => {
    await app?.close();
  });

  it('returns the digest of N chained SHA-256 rounds and the pid that ran it', async () => {
    const job = await app.get(Oban).insert(HashWorker, { rounds: 1_000, seed: 7 });
    assert.equal(job.state, 'completed');
    let expected = createHash('sha256').update('salt-7').digest();
    for (let i = 0; i < 1_000; i++) expected = createHash('sha256').update(expected).digest();
    const result = job.result!; // typed by the worker: ResultOf<HashWorker>
    assert.equal(result.digest, expected.toString('hex'));
    assert.equal(result.pid, process.pid); // inline: in this process
  });
});

describe('sample: the starter', () => {
  it('runs end to end on embedded PGlite, hash jobs in worker processes, printing the pid of each and a summary', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nest-oban-starter-'));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TS_NODE_TRANSPILE_ONLY: 'true',
      OBAN_PGLITE_DIR: dataDir,
      OBAN_PRO_PROCESSES: '2',
    };
    delete env.DATABASE_URL;
    const root = path.join(__dirname, '..');
    const child = spawn(
      process.execPath,
      ['-r', 'ts-node/register', 'sample/starter.ts', '--jobs=4', '--rounds=2000'],
      { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    try {
      const code = await new Promise((resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 120_000); // never hang the suite
        child.once('exit', (exitCode) => {
          clearTimeout(timer);
          resolve(exitCode);
        });
      });
      assert.equal(code, 0, output);
      assert.match(output, new RegExp(`using embedded PGlite at ${dataDir}`));
      assert.match(output, /its welcome email job #\d+ is completed/);
      const pids = [...output.matchAll(/job #\d+ ran in pid (\d+)/g)].map((m) => Number(m[1]));
      assert.equal(pids.length, 4, output);
      assert.ok(!pids.includes(child.pid!), `cpu jobs ran in the main process:\n${output}`);
      assert.match(output, /4 jobs in [\d.]+ s, by process:\n(\s+pid \d+: \d+ job\(s\)\n)+/);
      // The model is loaded once per process: the main one and each worker process.
      const loaded = new Set([...output.matchAll(/model loaded in pid (\d+)/g)].map((m) => Number(m[1])));
      assert.ok(loaded.has(child.pid!), output);
      for (const pid of pids) assert.ok(loaded.has(pid), `no model loaded in worker pid ${pid}:\n${output}`);
      assert.doesNotMatch(output, /failed to start/);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
