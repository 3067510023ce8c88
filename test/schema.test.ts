import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource } from 'typeorm';
import { OBAN_SCHEMA_VERSION, obanMigrations } from '../lib';
import { PgDatabase } from '../lib/db/pg-database';
import { assertSchemaCurrent, migrate, schemaVersion } from '../lib/db/migrate';
import { createApp } from './support/app';
import { DATABASE_URL, TestSchema } from './support/db';

describe('schema', () => {
  const schemas: TestSchema[] = [];
  const fresh = (label: string) => {
    const s = new TestSchema(label);
    schemas.push(s);
    return s;
  };
  after(async () => {
    for (const s of schemas) await s.drop();
  });

  it('migrate creates oban_jobs with Oban columns, constraints and the fetch index, and is idempotent', async () => {
    const schema = fresh('mig');
    const db = PgDatabase.fromUrl(DATABASE_URL, 2);
    try {
      assert.deepEqual(await migrate(db, schema.prefix), { from: 0, to: OBAN_SCHEMA_VERSION });
      assert.deepEqual(await migrate(db, schema.prefix), { from: OBAN_SCHEMA_VERSION, to: OBAN_SCHEMA_VERSION });
      assert.equal(await schemaVersion(db, schema.prefix), OBAN_SCHEMA_VERSION);
    } finally {
      await db.close();
    }
    const columns = await schema.query(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'oban_jobs'`,
      [schema.prefix],
    );
    const names = columns.map((c) => c.column_name).sort();
    for (const expected of [
      'id',
      'state',
      'queue',
      'worker',
      'args',
      'meta',
      'tags',
      'errors',
      'attempt',
      'max_attempts',
      'priority',
      'inserted_at',
      'scheduled_at',
      'attempted_at',
      'attempted_by',
      'completed_at',
      'discarded_at',
      'cancelled_at',
      'result',
    ]) {
      assert.ok(names.includes(expected), `column ${expected} missing from ${names.join(', ')}`);
    }
    const [index] = await schema.query(
      `SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = 'oban_jobs_available_index'`,
      [schema.prefix],
    );
    assert.match(index.indexdef, /\(queue, priority, scheduled_at, id\) WHERE \(state = 'available'/);

    const insert = (cols: string) =>
      schema.query(`INSERT INTO ${schema.jobs} (worker, ${cols.split('=')[0]}) VALUES ('W', ${cols.split('=')[1]})`);
    await assert.rejects(insert('priority=10'), /priority_range/);
    await assert.rejects(insert('priority=-1'), /priority_range/);
    await assert.rejects(insert('max_attempts=0'), /positive_max_attempts/);
    await assert.rejects(
      schema.query(`INSERT INTO ${schema.jobs} (worker, attempt, max_attempts) VALUES ('W', 4, 3)`),
      /attempt_range/,
    );
    await assert.rejects(
      schema.query(`INSERT INTO ${schema.jobs} (worker, state) VALUES ('W', 'done')`),
      /invalid input value for enum/,
    );
  });

  it('concurrent migrations from several nodes do not collide', async () => {
    const schema = fresh('migrace');
    const dbs = [0, 1, 2].map(() => PgDatabase.fromUrl(DATABASE_URL, 2));
    try {
      const results = await Promise.all(dbs.map((db) => migrate(db, schema.prefix)));
      assert.equal(results.filter((r) => r.from === 0).length, 1, 'exactly one node applies the versions');
    } finally {
      await Promise.all(dbs.map((db) => db.close()));
    }
  });

  it('boot without migrate fails with what to do when the schema is missing', async () => {
    const schema = fresh('nomig');
    await assert.rejects(
      createApp({ oban: { connection: DATABASE_URL, prefix: schema.prefix, queues: {} }, logger: false }),
      (error: Error) => {
        assert.match(
          error.message,
          new RegExp(`schema version ${OBAN_SCHEMA_VERSION} in schema '${schema.prefix}', found none`),
        );
        assert.match(error.message, /migrate: true/);
        assert.match(error.message, /obanMigrations/);
        return true;
      },
    );
  });

  it('runs as TypeORM migrations in the app DataSource, up and down', async () => {
    const schema = fresh('typeorm');
    const dataSource = new DataSource({
      type: 'postgres',
      url: DATABASE_URL,
      migrations: obanMigrations(schema.prefix),
      migrationsTableName: `${schema.prefix}_typeorm_migrations`,
    });
    await dataSource.initialize();
    try {
      const applied = await dataSource.runMigrations();
      assert.equal(applied.length, OBAN_SCHEMA_VERSION);
      const db = PgDatabase.fromPool((dataSource.driver as any).master);
      await assertSchemaCurrent(db, schema.prefix);
      // A boot with migrate: true after the app's own run changes nothing.
      const app = await createApp({
        oban: { connection: dataSource, prefix: schema.prefix, migrate: true, queues: {} },
      });
      await app.close();
      for (let i = 0; i < OBAN_SCHEMA_VERSION; i++) await dataSource.undoLastMigration();
      assert.equal(await schemaVersion(db, schema.prefix), 0);
    } finally {
      await dataSource.query(`DROP TABLE IF EXISTS "${schema.prefix}_typeorm_migrations"`);
      await dataSource.destroy();
    }
  });
});
