import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  OBAN_SCHEMA_VERSION,
  OBAN_SCHEMA_VERSIONS,
  applyVersionDown,
  applyVersionUp,
  quoteSchema,
} from '../migrations';
import { uniqueIndexSql, upV3 } from '../migrations/v3';
import { migrate, schemaVersion } from '../lib/db/migrate';
import { PgDatabase } from '../lib/db/pg-database';
import { DATABASE_URL, TestSchema } from './support/db';
import { waitFor } from './support/wait';

describe('schema v3 (unique jobs)', () => {
  const schemas: TestSchema[] = [];
  const db = PgDatabase.fromUrl(DATABASE_URL, 2);
  const runner = { query: (sql: string) => db.query(sql) };
  after(async () => {
    await db.close();
    for (const s of schemas) await s.drop();
  });

  /** A schema at version 2 holding a few jobs, as an app upgrading to unique jobs has. */
  const atV2 = async (label: string) => {
    const schema = new TestSchema(label);
    schemas.push(schema);
    for (const version of OBAN_SCHEMA_VERSIONS.filter((v) => v.version <= 2)) {
      await applyVersionUp(runner, version, schema.prefix);
    }
    await schema.query(
      `INSERT INTO ${schema.jobs} (worker, state) SELECT 'W', 'available' FROM generate_series(1, 50)`,
    );
    return schema;
  };
  const uniqueIndex = async (schema: TestSchema) =>
    (
      await schema.query<{ oid: number; valid: boolean; def: string }>(
        `SELECT i.indexrelid::int AS oid, i.indisvalid AS valid, pg_get_indexdef(i.indexrelid) AS def
         FROM pg_index i WHERE i.indexrelid = to_regclass($1)`,
        [`"${schema.prefix}".oban_jobs_unique_index`],
      )
    )[0];
  const columns = async (schema: TestSchema) =>
    (
      await schema.query<{ name: string }>(
        `SELECT column_name AS name FROM information_schema.columns
         WHERE table_schema = $1 AND table_name = 'oban_jobs' AND column_name LIKE 'unique%' ORDER BY 1`,
        [schema.prefix],
      )
    ).map((c) => c.name);

  it('adds the key columns and the partial unique index to a table with jobs; running it again changes nothing', async () => {
    const schema = await atV2('uniq_schema');
    assert.deepEqual(await migrate(db, schema.prefix), { from: 2, to: OBAN_SCHEMA_VERSION });
    assert.deepEqual(await columns(schema), ['unique_key', 'unique_states']);
    const index = await uniqueIndex(schema);
    assert.equal(index.valid, true);
    assert.match(
      index.def,
      /CREATE UNIQUE INDEX oban_jobs_unique_index ON .* \(unique_key\) WHERE \(\(unique_key IS NOT NULL\) AND \(state = ANY \(unique_states\)\)\)/,
    );
    assert.equal(await schema.count('unique_key IS NULL'), 50, 'jobs kept, with no key');

    const v3 = OBAN_SCHEMA_VERSIONS.find((v) => v.version === 3)!;
    await applyVersionUp(runner, v3, schema.prefix); // as a second migration tool would
    assert.equal((await uniqueIndex(schema)).oid, index.oid, 'the index is kept, not rebuilt');
  });

  it('keeps an index built beforehand with CREATE INDEX CONCURRENTLY (the recipe for large tables)', async () => {
    const schema = await atV2('uniq_recipe');
    const quoted = quoteSchema(schema.prefix);
    // The recipe: the column step of v3 (instant), then the index, each outside a transaction.
    await db.query(upV3(quoted)[0]);
    await db.query(uniqueIndexSql(quoted, true));
    const built = await uniqueIndex(schema);
    assert.equal(built.valid, true);
    assert.deepEqual(await migrate(db, schema.prefix), { from: 2, to: OBAN_SCHEMA_VERSION });
    assert.equal((await uniqueIndex(schema)).oid, built.oid);
  });

  it('refuses to go on over an invalid index that a failed concurrent build left, saying what to do', async () => {
    const schema = await atV2('uniq_invalid');
    const quoted = quoteSchema(schema.prefix);
    await db.query(upV3(quoted)[0]);
    // Two rows holding one key make the concurrent build fail, leaving the index invalid.
    await schema.query(
      `UPDATE ${schema.jobs} SET unique_key = '\\x01', unique_states = '{available}' WHERE id IN (1, 2)`,
    );
    await assert.rejects(db.query(uniqueIndexSql(quoted, true)), /could not create unique index/);
    assert.equal((await uniqueIndex(schema)).valid, false);
    await assert.rejects(
      migrate(db, schema.prefix),
      new RegExp(`index ${schema.prefix}.oban_jobs_unique_index is invalid .*; drop it and migrate again`),
    );
    assert.equal(await schemaVersion(db, schema.prefix), 2, 'nothing recorded');
    await schema.query(`UPDATE ${schema.jobs} SET unique_key = NULL WHERE id = 2`);
    await schema.query(`DROP INDEX ${quoted}.oban_jobs_unique_index`);
    assert.deepEqual(await migrate(db, schema.prefix), { from: 2, to: OBAN_SCHEMA_VERSION });
    assert.equal((await uniqueIndex(schema)).valid, true);
  });

  it('on a large table, migrate builds the index concurrently: writes go on while it runs', async () => {
    const schema = await atV2('uniq_online');
    await schema.query(
      `INSERT INTO ${schema.jobs} (worker, state, args)
       SELECT 'W', 'completed', jsonb_build_object('pad', repeat('x', 300)) FROM generate_series(1, 70000)`,
    );
    const [{ bytes }] = await schema.query(`SELECT pg_relation_size($1::regclass) AS bytes`, [schema.jobs]);
    assert.ok(Number(bytes) > 16 * 1024 * 1024, `table of ${bytes} bytes, over the online threshold`);

    // An open snapshot makes the concurrent build wait at its end, so the test can look at it running.
    const snapshot = await schema.pool.connect();
    let migrated = false;
    try {
      await snapshot.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await snapshot.query('SELECT 1');
      const migration = migrate(db, schema.prefix).finally(() => (migrated = true));
      await waitFor(
        'the concurrent build',
        async () =>
          (
            await schema.query(
              `SELECT 1 FROM pg_stat_progress_create_index
               WHERE relid = $1::regclass AND command = 'CREATE INDEX CONCURRENTLY'`,
              [schema.jobs],
            )
          ).length > 0,
        { timeout: 30_000 },
      );
      await schema.query(`INSERT INTO ${schema.jobs} (worker) VALUES ('written during the build')`);
      assert.equal(migrated, false, 'the write did not wait for the build');
      await snapshot.query('COMMIT');
      assert.deepEqual(await migration, { from: 2, to: OBAN_SCHEMA_VERSION });
    } finally {
      await snapshot.query('ROLLBACK').catch(() => undefined);
      snapshot.release();
    }
    assert.equal((await uniqueIndex(schema)).valid, true);
    assert.equal(await schema.count(`worker = 'written during the build'`), 1);
  });

  it('goes down to v2, dropping the index and the columns, and up again', async () => {
    const schema = await atV2('uniq_down');
    await migrate(db, schema.prefix);
    for (const version of [...OBAN_SCHEMA_VERSIONS].reverse().filter((v) => v.version >= 3)) {
      await applyVersionDown(runner, version, schema.prefix);
    }
    assert.equal(await schemaVersion(db, schema.prefix), 2);
    assert.deepEqual(await columns(schema), []);
    assert.equal(await uniqueIndex(schema), undefined);
    assert.deepEqual(await migrate(db, schema.prefix), { from: 2, to: OBAN_SCHEMA_VERSION });
    assert.deepEqual(await columns(schema), ['unique_key', 'unique_states']);
  });
});
