import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OBAN_SCHEMA_VERSION, OBAN_SCHEMA_VERSIONS, applyVersionDown, applyVersionUp } from '../migrations';
import { migrate, schemaVersion } from '../lib/db/migrate';
import { PgDatabase } from '../lib/db/pg-database';
import { DATABASE_URL, TestSchema } from './support/db';

describe('schema v2 (cluster tables)', () => {
  const schema = new TestSchema('cluster_schema');
  const db = PgDatabase.fromUrl(DATABASE_URL, 2);
  after(async () => {
    await db.close();
    await schema.drop();
  });
  const tables = async () =>
    (
      await schema.query<{ name: string; persistence: string }>(
        `SELECT c.relname AS name, c.relpersistence AS persistence FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'i') ORDER BY 1`,
        [schema.prefix],
      )
    ).map((t) => `${t.name}${t.persistence === 'u' ? ' (unlogged)' : ''}`);
  const runner = { query: (sql: string) => db.query(sql) };

  it('upgrades a v1 schema with jobs in it, and running it again changes nothing', async () => {
    assert.ok(OBAN_SCHEMA_VERSION >= 2);
    await applyVersionUp(runner, OBAN_SCHEMA_VERSIONS[0], schema.prefix);
    assert.equal(await schemaVersion(db, schema.prefix), 1);
    await schema.query(`INSERT INTO ${schema.jobs} (worker, state, completed_at) VALUES ('W', 'completed', now())`);

    assert.deepEqual(await migrate(db, schema.prefix), { from: 1, to: OBAN_SCHEMA_VERSION });
    assert.equal(await schemaVersion(db, schema.prefix), OBAN_SCHEMA_VERSION);
    const v2 = await tables();
    for (const t of [
      'oban_nodes (unlogged)',
      'oban_peers (unlogged)',
      'oban_queues',
      'oban_crons',
      'oban_jobs_completed_at_index',
      'oban_jobs_cancelled_at_index',
      'oban_jobs_discarded_at_index',
    ]) {
      assert.ok(v2.includes(t), `${t} exists (have ${v2.join(', ')})`);
    }
    assert.equal(await schema.count(), 1, 'jobs kept');

    assert.deepEqual(await migrate(db, schema.prefix), { from: OBAN_SCHEMA_VERSION, to: OBAN_SCHEMA_VERSION });
    for (const version of OBAN_SCHEMA_VERSIONS) await applyVersionUp(runner, version, schema.prefix); // as a second migration tool would
    assert.deepEqual(await tables(), v2);
    assert.equal(await schemaVersion(db, schema.prefix), OBAN_SCHEMA_VERSION);
  });

  it('goes down to v1 and up again', async () => {
    for (const version of [...OBAN_SCHEMA_VERSIONS].reverse().filter((v) => v.version >= 2)) {
      await applyVersionDown(runner, version, schema.prefix);
    }
    assert.equal(await schemaVersion(db, schema.prefix), 1);
    assert.ok(!(await tables()).some((t) => t.startsWith('oban_nodes') || t.startsWith('oban_crons')));
    assert.equal(await schema.count(), 1);
    assert.deepEqual(await migrate(db, schema.prefix), { from: 1, to: OBAN_SCHEMA_VERSION });
  });
});
