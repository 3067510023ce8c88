import type { PoolConfig } from 'pg';

/**
 * Reaching Postgres through a pooler in transaction mode (PgBouncer's
 * `pool_mode = transaction`): each transaction, or each statement outside
 * one, may run on a different server connection. So nothing may outlive a
 * transaction there: a named prepared statement would be missing (or
 * already there) on the next server connection, a session advisory lock or
 * a SET would stay behind on one, a LISTEN would hear nothing. `direct`, if
 * given, reaches Postgres without the pooler, for what needs a session.
 */
export interface TransactionPooler {
  direct: string | undefined;
}

/**
 * A pool's settings for a transaction pooler: without `statement_timeout`,
 * which node-postgres sends as a startup parameter and PgBouncer refuses
 * (`unsupported startup parameter`); set it on the role instead.
 */
export function transactionPoolConfig(config: PoolConfig): PoolConfig {
  const { statement_timeout: _refused, ...rest } = config;
  return rest;
}
