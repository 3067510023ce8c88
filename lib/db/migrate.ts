import { OBAN_SCHEMA_VERSION, OBAN_SCHEMA_VERSIONS, applyVersionUp, quoteSchema } from '../../migrations';
import { ObanConfigError } from '../errors';
import type { Database, Queryable } from './database';
import { inTransaction } from './transaction';

/** The schema version found in `prefix`, 0 when nest-oban's tables are not there. */
export async function schemaVersion(db: Queryable, prefix: string): Promise<number> {
  const [row] = await db.query<{ comment: string | null }>(
    `SELECT obj_description(to_regclass($1), 'pg_class') AS comment`,
    [`${quoteSchema(prefix)}.oban_jobs`],
  );
  const version = Number.parseInt(row?.comment ?? '', 10);
  return Number.isFinite(version) ? version : 0;
}

/** Above this size a version's `online` statements run first (a plain index build would block writes longer). */
const ONLINE_ABOVE_BYTES = 16 * 1024 * 1024;

/**
 * Brings the schema up to date. An advisory lock serialises nodes that boot
 * together; each version runs in its own transaction, after its `online`
 * statements (outside any transaction) when `oban_jobs` is large.
 */
export async function migrate(db: Database, prefix: string): Promise<{ from: number; to: number }> {
  if (db.transactionPooled) return migrateInTransactions(db, prefix);
  return db.session(async (session) => {
    const lockKey = `nest-oban.migrate.${prefix}`;
    await session.query('SELECT pg_advisory_lock(hashtext($1))', [lockKey]);
    try {
      const from = await schemaVersion(session, prefix);
      for (const version of OBAN_SCHEMA_VERSIONS.filter((v) => v.version > from)) {
        // PGlite has one session and nobody to keep writing: the plain build is the one to run there.
        if (version.online && db.kind === 'postgres' && (await jobsTableBytes(session, prefix)) > ONLINE_ABOVE_BYTES) {
          for (const sql of version.online(quoteSchema(prefix))) await session.query(sql);
        }
        await inTransaction(session, (tx) => applyVersionUp({ query: (sql) => tx.query(sql) }, version, prefix));
      }
      return { from, to: Math.max(from, OBAN_SCHEMA_VERSION) };
    } finally {
      await session.query('SELECT pg_advisory_unlock(hashtext($1))', [lockKey]);
    }
  });
}

/**
 * The same behind a pooler in transaction mode, where a session lock would
 * stay on whichever server connection took it: each version takes a
 * transaction's lock, reads the version again and applies it if still due.
 */
async function migrateInTransactions(db: Database, prefix: string): Promise<{ from: number; to: number }> {
  return db.session(async (session) => {
    const lockKey = `nest-oban.migrate.${prefix}`;
    const from = await schemaVersion(session, prefix);
    for (const version of OBAN_SCHEMA_VERSIONS.filter((v) => v.version > from)) {
      await inTransaction(session, async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [lockKey]);
        if ((await schemaVersion(tx, prefix)) < version.version) {
          await applyVersionUp({ query: (sql) => tx.query(sql) }, version, prefix);
        }
      });
    }
    return { from, to: Math.max(from, OBAN_SCHEMA_VERSION) };
  });
}

/** The size of `oban_jobs` on disk (0 when it does not exist yet). */
async function jobsTableBytes(db: Queryable, prefix: string): Promise<number> {
  const [row] = await db.query<{ bytes: string }>(`SELECT COALESCE(pg_relation_size(to_regclass($1)), 0) AS bytes`, [
    `${quoteSchema(prefix)}.oban_jobs`,
  ]);
  return Number(row.bytes);
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
