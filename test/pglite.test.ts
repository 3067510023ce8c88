import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type LoggerService, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { type Job, Oban, ObanConfigError, ObanModule, Worker, embeddedTypeOrmOptions } from '../lib';
import { resolveConfig } from '../lib/config/config';
import { createApp } from './support/app';
import { Account } from './support/behaviour';
import { sleep, waitFor } from './support/wait';

@Worker({ queue: 'default' })
class NoteWorker {
  perform(job: Job<{ note: string }>) {
    return { noted: job.args.note };
  }
}

@Module({ providers: [NoteWorker] })
class NoteModule {}

const tmpDirs: string[] = [];
function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nest-oban-pglite-'));
  tmpDirs.push(dir);
  return dir;
}

/** Starts test/fixtures/pglite-holder.ts on `dir` and waits until it holds the database. */
async function holdInAnotherProcess(dir: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['-r', 'ts-node/register', path.join(__dirname, 'fixtures/pglite-holder.ts'), dir],
    {
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' },
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
    child.on('exit', (code) => reject(new Error(`the holder process exited with ${code} before it was ready`)));
  });
  return child;
}

after(() => {
  for (const dir of tmpDirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('embedded PGlite', () => {
  it('is what an app without a connection gets, with a log line saying where', async () => {
    const lines: string[] = [];
    const logger: LoggerService = {
      log: (message: string) => lines.push(String(message)),
      error: () => undefined,
      warn: () => undefined,
    };
    const dir = tmpDir();
    @Module({ imports: [ObanModule.forRoot({ pglite: { dataDir: dir }, queues: { default: 2 } }), NoteModule] })
    class Root {}
    const app = await NestFactory.createApplicationContext(Root, { logger });
    try {
      assert.ok(
        lines.some((l) => l.includes(`using embedded PGlite at ${dir}`)),
        `no log line naming the data dir in:\n${lines.join('\n')}`,
      );
      const job = await app.get(Oban).insert(NoteWorker, { note: 'hi' });
      const done = await waitFor('completion', async () => {
        const j = await app.get(Oban).getJob(job.id);
        return j?.state === 'completed' ? j : null;
      });
      assert.deepEqual(done.result, { noted: 'hi' });
    } finally {
      await app.close();
    }
  });

  it('keeps jobs in the data dir across restarts, and frees the dir on close', async () => {
    const dir = tmpDir();
    const options = { pglite: { dataDir: dir }, queues: { default: 2 } };
    const first = await createApp({ oban: options, imports: [NoteModule] });
    const job = await first.get(Oban).insert(NoteWorker, { note: 'tomorrow' }, { scheduleIn: 86_400 });
    assert.ok(fs.existsSync(path.join(dir, 'nest-oban.pid')));
    await first.close();
    assert.ok(!fs.existsSync(path.join(dir, 'nest-oban.pid')), 'the owner file is removed on close');

    const second = await createApp({ oban: options, imports: [NoteModule] });
    try {
      const kept = await second.get(Oban).getJob(job.id);
      assert.equal(kept?.state, 'scheduled');
      assert.deepEqual(kept?.args, { note: 'tomorrow' });
    } finally {
      await second.close();
    }
  });

  it('refuses a second process on the same data dir, saying what to do', async () => {
    const dir = tmpDir();
    const holder = await holdInAnotherProcess(dir);
    try {
      await assert.rejects(createApp({ oban: { pglite: { dataDir: dir } } }), (error: unknown) => {
        assert.ok(error instanceof ObanConfigError);
        assert.match(error.message, new RegExp(`data dir ${dir} is in use by pid ${holder.pid}`));
        assert.match(error.message, /PGlite cannot be shared by several nodes/);
        assert.match(error.message, /set DATABASE_URL/);
        return true;
      });
    } finally {
      holder.stdin!.end();
      await new Promise((resolve) => holder.once('exit', resolve));
    }
    const after = await createApp({ oban: { pglite: { dataDir: dir } } }); // free again once the holder stopped
    await after.close();
  });

  it('takes over a data dir left by a process that died', async () => {
    const dir = tmpDir();
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((resolve) => dead.once('exit', resolve));
    fs.writeFileSync(path.join(dir, 'nest-oban.pid'), String(dead.pid));
    const app = await createApp({ oban: { pglite: { dataDir: dir } } });
    try {
      assert.equal(fs.readFileSync(path.join(dir, 'nest-oban.pid'), 'utf8'), String(process.pid));
    } finally {
      await app.close();
    }
  });

  it("never runs nest-oban's statements inside a transaction opened on its single session", async () => {
    const dataDir = 'memory://single-session';
    const app = await createApp({ oban: { pglite: { dataDir }, queues: {} }, imports: [NoteModule] });
    const dataSource = await new DataSource({
      ...embeddedTypeOrmOptions({ dataDir }),
      entities: [Account],
      synchronize: true,
    }).initialize();
    const oban = app.get(Oban);
    try {
      let seenFromOutside: Promise<Job | null> | undefined;
      let lookedAt = 0;
      const committedAt = await dataSource.transaction(async (manager) => {
        const job = await oban.insert(NoteWorker, { note: 'in tx' }, { manager });
        // From outside the transaction: on a shared session this would see the uncommitted row at once.
        seenFromOutside = oban.getJob(job.id).then((found) => {
          lookedAt = Date.now();
          return found;
        });
        await sleep(200);
        assert.equal(lookedAt, 0, 'an outside statement ran while the transaction was open');
        return Date.now();
      });
      const found = await seenFromOutside!;
      assert.equal(found?.state, 'available');
      assert.ok(lookedAt >= committedAt, 'the outside statement waited for the commit');
    } finally {
      await dataSource.destroy();
      await app.close();
    }
  });
});

describe('embedded PGlite through a TypeORM DataSource', () => {
  it('accepts a DataSource on embeddedTypeOrmOptions() as the connection, sharing its database', async () => {
    const dataDir = 'memory://through-datasource';
    const dataSource = await new DataSource({
      ...embeddedTypeOrmOptions({ dataDir }),
      entities: [Account],
      synchronize: true,
    }).initialize();
    @Module({
      imports: [
        ObanModule.forRootAsync({ useFactory: () => ({ connection: dataSource, queues: { default: 2 } }) }),
        NoteModule,
      ],
    })
    class Root {}
    const app = await NestFactory.createApplicationContext(Root, { logger: ['error'] });
    try {
      const oban = app.get(Oban);
      const job = await dataSource.transaction(async (manager) => {
        await manager.save(Account, { email: 'ds@example.com' });
        return oban.insert(NoteWorker, { note: 'via the DataSource' }, { manager });
      });
      const done = await waitFor('completion', async () => {
        const j = await oban.getJob(job.id);
        return j?.state === 'completed' ? j : null;
      });
      assert.deepEqual(done.result, { noted: 'via the DataSource' });
      // One database: the job row is visible through TypeORM too.
      const [row] = await dataSource.query('SELECT state FROM public.oban_jobs WHERE id = $1', [job.id]);
      assert.equal(row.state, 'completed');
    } finally {
      await app.close();
      await dataSource.destroy();
    }
  });
});

describe('embedded PGlite seen from a worker process', () => {
  const flag = Symbol.for('nest-oban.worker-process'); // what markWorkerProcess() sets
  after(() => {
    delete (globalThis as any)[flag];
  });

  it('leaves the TypeORM DataSource unconnected there, and says why a query cannot run', async () => {
    (globalThis as any)[flag] = true;
    const options = embeddedTypeOrmOptions({ dataDir: tmpDir() });
    assert.equal(options.manualInitialization, true);
    await assert.rejects(new DataSource({ ...options, entities: [Account] }).initialize(), (error: unknown) => {
      assert.match(String((error as Error).message), /belongs to the main process; code in a worker process/);
      return true;
    });
    delete (globalThis as any)[flag];
    assert.equal(embeddedTypeOrmOptions().manualInitialization, undefined);
  });
});

describe('pglite option', () => {
  it('defaults to ./.pglite, takes env OBAN_PGLITE_DIR, and the option wins', () => {
    assert.equal(resolveConfig({}, {}).pgliteDir, path.resolve('.pglite'));
    assert.equal(resolveConfig({}, { OBAN_PGLITE_DIR: '/tmp/x' }).pgliteDir, '/tmp/x');
    assert.equal(
      resolveConfig({ pglite: { dataDir: 'memory://' } }, { OBAN_PGLITE_DIR: '/tmp/x' }).pgliteDir,
      'memory://',
    );
  });

  it('rejects a bad dataDir or an unknown key, naming it', () => {
    assert.throws(() => resolveConfig({ pglite: { dataDir: '' } }, {}), /pglite\.dataDir must be a folder path/);
    assert.throws(() => resolveConfig({ pglite: { dir: 'x' } as any }, {}), /pglite: unknown option 'dir'/);
  });
});
