import { Logger } from '@nestjs/common';
import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import { ObanConfigError } from '../errors';
import type { Database } from './database';
import { NoDatabase } from './no-database';
import { type DatabaseTimeouts, PgDatabase } from './pg-database';
import { PgliteDatabase } from './pglite-database';
import { PglitePool } from './pglite-typeorm';
import type { TransactionPooler } from './transaction-pooler';

/** What `connection` may be in the module options. */
export type ConnectionOption = string | DataSource | Pool;

/** Where the database is, as the module config says. */
export interface ConnectionSpec {
  /** Unset: embedded PGlite in `pgliteDir`. */
  connection: ConnectionOption | undefined;
  pgliteDir: string;
  /** Connections of the pool opened from a URL. */
  poolSize: number;
  /** Bounds on every statement and connection (Postgres pools only); defaults when unset. */
  timeouts?: DatabaseTimeouts;
  /** Set: behind a pooler in transaction mode (the `pooler` option). */
  pooler?: TransactionPooler;
  /** No database at all (`testing: 'inline'` without a connection). */
  none: boolean;
  /** Where the database's own lines go (nest-oban's logger); Nest's Logger when unset. */
  logger?: Logger;
}

/** Opens the Database the spec names, and checks that it answers. */
export async function connectDatabase(spec: ConnectionSpec): Promise<Database> {
  if (spec.none) return new NoDatabase();
  const db = await openDatabase(spec);
  try {
    await db.query('SELECT 1');
  } catch (error) {
    await db.close().catch(() => undefined);
    throw new ObanConfigError(
      `ObanModule: cannot reach the database at ${db.description}: ${(error as Error).message}`,
    );
  }
  return db;
}

async function openDatabase(config: ConnectionSpec): Promise<Database> {
  const connection = config.connection;
  if (connection === undefined) {
    const db = await PgliteDatabase.open(config.pgliteDir);
    (config.logger ?? new Logger('Oban')).log(
      `no connection set: using embedded PGlite at ${config.pgliteDir} ` +
        `(one node only; set DATABASE_URL / \`connection\` to use a Postgres server)`,
    );
    return db;
  }
  if (typeof connection === 'string')
    return PgDatabase.fromUrl(connection, config.poolSize, config.timeouts, config.logger, config.pooler);
  if (isDataSource(connection)) return fromDataSource(connection, config.timeouts, config.logger, config.pooler);
  if (isPgPool(connection))
    return PgDatabase.fromPool(connection, undefined, config.timeouts, config.logger, config.pooler);
  throw new ObanConfigError('ObanModule: connection is neither a URL, a TypeORM DataSource nor a pg Pool');
}

function fromDataSource(
  dataSource: DataSource,
  timeouts?: DatabaseTimeouts,
  logger?: Logger,
  pooler?: TransactionPooler,
): Database | Promise<Database> {
  const type = dataSource.options.type;
  if (type !== 'postgres') {
    throw new ObanConfigError(
      `ObanModule: connection is a TypeORM DataSource of type '${type}'; nest-oban needs 'postgres'`,
    );
  }
  if (!dataSource.isInitialized) {
    throw new ObanConfigError(
      'ObanModule: the TypeORM DataSource given as connection is not initialized; ' +
        'call dataSource.initialize() first, or provide it through TypeOrmModule and forRootAsync({ inject: [DataSource] })',
    );
  }
  const master = (dataSource.driver as unknown as { master?: unknown }).master;
  // A DataSource on embeddedTypeOrmOptions(): share its PGlite database, and its session lock.
  if (master instanceof PglitePool) return PgliteDatabase.open(master.dataDir);
  const pool = master as Pool | undefined;
  if (!pool || !isPgPool(pool)) {
    throw new ObanConfigError(
      'ObanModule: cannot find the pg Pool of the TypeORM DataSource (is it using the pg driver?)',
    );
  }
  return PgDatabase.fromPool(pool, 'the pool of a TypeORM DataSource', timeouts, logger, pooler);
}

function isDataSource(value: object): value is DataSource {
  return 'driver' in value && 'options' in value && 'isInitialized' in value;
}

function isPgPool(value: object): value is Pool {
  return typeof (value as Pool).connect === 'function' && 'totalCount' in value && 'options' in value;
}
