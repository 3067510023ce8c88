import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Injectable, Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Oban, ObanConfigError, ObanModule } from '../lib';
import { resolveConfig } from '../lib/config/config';
import { OBAN_CONFIG, OBAN_DATABASE } from '../lib/oban.tokens';
import { NestFactory } from '@nestjs/core';
import { createApp } from './support/app';
import { DATABASE_URL, TestSchema } from './support/db';

const base = { connection: DATABASE_URL };

describe('module options', () => {
  const schema = new TestSchema('config');
  after(() => schema.drop());

  it('parses queues as an object or a string, and env OBAN_QUEUES overrides both', () => {
    assert.deepEqual(
      resolveConfig({ ...base, queues: { default: 10, heavy: { limit: 2, paused: true } } }, {}).queues,
      [
        { name: 'default', limit: 10, paused: false },
        { name: 'heavy', limit: 2, paused: true },
      ],
    );
    assert.deepEqual(resolveConfig({ ...base, queues: 'default:10, heavy:16' }, {}).queues, [
      { name: 'default', limit: 10, paused: false },
      { name: 'heavy', limit: 16, paused: false },
    ]);
    assert.deepEqual(resolveConfig({ ...base, queues: { default: 10 } }, { OBAN_QUEUES: 'mail:3' }).queues, [
      { name: 'mail', limit: 3, paused: false },
    ]);
    assert.deepEqual(resolveConfig({ ...base, queues: { default: 10 } }, { OBAN_QUEUES: '' }).queues, []);
  });

  it('rejects bad queue limits and unparsable strings, naming the bad part', () => {
    const bad: Array<[object, Record<string, string>, RegExp]> = [
      [{ queues: { default: 0 } }, {}, /queue 'default' has limit 0; a limit must be a whole number >= 1/],
      [{ queues: { default: -3 } }, {}, /queue 'default' has limit -3/],
      [{ queues: { heavy: 2.5 } }, {}, /queue 'heavy' has limit 2.5/],
      [{ queues: 'default:10,heavy' }, {}, /queues: cannot parse 'heavy' in 'default:10,heavy'/],
      [{ queues: 'default:abc' }, {}, /queue 'default' has limit 'abc'/],
      [{}, { OBAN_QUEUES: 'default=10' }, /env OBAN_QUEUES: cannot parse 'default=10'/],
      [{}, { OBAN_QUEUES: 'a:1,a:2' }, /queue 'a' is listed twice/],
      [{ queues: { 'bad queue': 1 } }, {}, /queue name "bad queue" is invalid/],
    ];
    for (const [options, env, message] of bad) {
      assert.throws(
        () => resolveConfig({ ...base, ...options }, env),
        (e: Error) => {
          assert.ok(e instanceof ObanConfigError, `${e}`);
          assert.match(e.message, message);
          return true;
        },
      );
    }
  });

  it('rejects a connection that is not a URL, DataSource or Pool, and unknown options', () => {
    assert.throws(
      () => resolveConfig({ connection: '' }, {}),
      /connection must be a postgres:\/\/ URL.*got ''.*DATABASE_URL/,
    );
    assert.throws(() => resolveConfig({ connection: 'mysql://x' }, {}), /connection must be a postgres:\/\/ URL/);
    assert.throws(() => resolveConfig({ connection: 42 as any }, {}), /got 42/);
    assert.throws(() => resolveConfig({ ...base, qeues: {} } as any, {}), /unknown option 'qeues'/);
    assert.throws(() => resolveConfig({ ...base, shutdownGracePeriod: -1 }, {}), /shutdownGracePeriod must be/);
  });

  it('processes: option, else OBAN_PRO_PROCESSES, else cores; bad values fail', () => {
    assert.equal(resolveConfig({ ...base, processes: 3 }, { OBAN_PRO_PROCESSES: '4' }).processes, 3);
    assert.equal(resolveConfig({ ...base }, { OBAN_PRO_PROCESSES: '4' }).processes, 4);
    assert.equal(resolveConfig({ ...base, processes: 0 }, {}).processes, 0);
    assert.ok(resolveConfig({ ...base }, {}).processes >= 1);
    assert.throws(
      () => resolveConfig({ ...base }, { OBAN_PRO_PROCESSES: 'four' }),
      /OBAN_PRO_PROCESSES must be a whole number >= 0, got 'four'/,
    );
    assert.throws(() => resolveConfig({ ...base, processes: -1 }, {}), /processes must be a whole number >= 0/);
    assert.deepEqual(resolveConfig({ ...base }, {}).processExecArgv, ['--single-threaded-gc']);
    assert.deepEqual(resolveConfig({ ...base, processExecArgv: ['--max-old-space-size=512'] }, {}).processExecArgv, [
      '--max-old-space-size=512',
    ]);
    assert.throws(
      () => resolveConfig({ ...base, processExecArgv: '--max-old-space-size=512' as any }, {}),
      /processExecArgv must be an array of Node flags/,
    );
  });

  it('fails at boot on bad config with the message naming the bad part', async () => {
    await assert.rejects(
      createApp({ oban: { ...base, prefix: schema.prefix, migrate: true, queues: { default: 0 } }, logger: false }),
      /queue 'default' has limit 0/,
    );
    await assert.rejects(
      createApp({ oban: { connection: 'postgres://postgres@127.0.0.1:1/none', prefix: schema.prefix }, logger: false }),
      /cannot reach the database at postgres:\/\/postgres@127.0.0.1:1\/none/,
    );
  });

  it('shares the pool of a TypeORM DataSource instead of opening another', async () => {
    const dataSource = await new DataSource({ type: 'postgres', url: DATABASE_URL, poolSize: 3 }).initialize();
    const app = await createApp({ oban: { connection: dataSource, prefix: schema.prefix, migrate: true, queues: {} } });
    try {
      const db = app.get<any>(OBAN_DATABASE);
      assert.equal(db.pool, (dataSource.driver as any).master, 'Oban queries go through the DataSource pool');
      await app.get(Oban).listJobs();
    } finally {
      await app.close();
    }
    assert.ok(dataSource.isInitialized, 'closing the app leaves the user DataSource open');
    await dataSource.destroy();
  });

  it('refuses an uninitialized DataSource with what to do', async () => {
    const dataSource = new DataSource({ type: 'postgres', url: DATABASE_URL });
    await assert.rejects(
      createApp({ oban: { connection: dataSource, prefix: schema.prefix }, logger: false }),
      /DataSource given as connection is not initialized; call dataSource.initialize\(\) first/,
    );
  });

  it('forRootAsync takes imports, inject and useFactory', async () => {
    @Injectable()
    class Settings {
      readonly url = DATABASE_URL;
    }
    @Module({ providers: [Settings], exports: [Settings] })
    class SettingsModule {}
    @Module({
      imports: [
        ObanModule.forRootAsync({
          imports: [SettingsModule],
          inject: [Settings],
          useFactory: (settings: Settings) => ({
            connection: settings.url,
            prefix: schema.prefix,
            migrate: true,
            queues: 'default:7',
          }),
        }),
      ],
    })
    class AsyncRoot {}
    const app = await NestFactory.createApplicationContext(AsyncRoot, { logger: ['error'] });
    try {
      assert.deepEqual(app.get<any>(OBAN_CONFIG).queues, [{ name: 'default', limit: 7, paused: false }]);
      assert.equal(app.get(Oban).checkQueue('default')?.limit, 7);
    } finally {
      await app.close();
    }
  });
});
