import { OBAN_SCHEMA_VERSION, OBAN_SCHEMA_VERSIONS, applyVersionUp, quoteSchema } from '../../migrations';
import { ObanConfigError } from '../errors';
import type { Database, Queryable } from './database';

/** The schema version found in `prefix`, 0 when nest-oban's tables are not there. */
export async function schemaVersion(db: Queryable, prefix: string): Promise<number> {
  const [row] = await db.query<{ comment: string | null }>(
    `SELECT obj_description(to_regclass($1), 'pg_class') AS comment`,
    [`${quoteSchema(prefix)}.oban_jobs`],
  );
  const version = Number.parseInt(row?.comment ?? '', 10);
  return Number.isFinite(version) ? version : 0;
}

/**
 * Brings the schema up to date. An advisory lock serialises nodes that boot
 * together; each version runs in its own transaction.
 */
export async function migrate(db: Database, prefix: string): Promise<{ from: number; to: number }> {
  return db.session(async (session) => {
    const lockKey = `nest-oban.migrate.${prefix}`;
    await session.query('SELECT pg_advisory_lock(hashtext($1))', [lockKey]);
    try {
      const from = await schemaVersion(session, prefix);
      for (const version of OBAN_SCHEMA_VERSIONS.filter((v) => v.version > from)) {
        await session.query('BEGIN');
        try {
          await applyVersionUp({ query: (sql) => session.query(sql) }, version, prefix);
          await session.query('COMMIT');
        } catch (error) {
          await session.query('ROLLBACK');
          throw error;
        }
      }
      return { from, to: Math.max(from, OBAN_SCHEMA_VERSION) };
    } finally {
      await session.query('SELECT pg_advisory_unlock(hashtext($1))', [lockKey]);
    }
  });
}

/** Fails with what to do when the schema is missing or older than this release needs. */
export async function assertSchemaCurrent(db: Queryable, prefix: string): Promise<void> {
  const version = await schemaVersion(db, prefix);
  if (version < OBAN_SCHEMA_VERSION) {
    throw new ObanConfigError(
      `nest-oban needs schema version ${OBAN_SCHEMA_VERSION} in schema '${prefix}', found ${version || 'none'}: ` +
        `set \`migrate: true\` in ObanModule.forRoot(), or add \`...obanMigrations(${prefix === 'public' ? '' : `'${prefix}'`})\` ` +
        `to your DataSource's migrations and run them`,
    );
  }
}
