import { Pool, type PoolClient } from 'pg';
import { type Storage, unfinishedJobsSql } from '../common/systems';

/**
 * The bench's own connections to a system's schema, apart from the library's
 * pool: counts what is left, clears, and drops the schema at the end.
 */
export class SchemaObserver {
  private readonly pool: Pool;

  constructor(
    url: string,
    private readonly system: Storage,
    private readonly schema: string,
  ) {
    this.pool = new Pool({ connectionString: url, max: 2 });
  }

  /** Jobs stored but not finished, as the database says. */
  async remaining(): Promise<number> {
    const { rows } = await this.pool.query(unfinishedJobsSql(this.system, this.schema));
    return rows[0].n;
  }

  async query(sql: string, params?: unknown[]): Promise<void> {
    await this.pool.query(sql, params);
  }

  /** Runs `fn` on one connection of the bench's own (a transaction, an EXPLAIN). */
  async withClient<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      return await fn(client);
    } finally {
      client.release();
    }
  }

  async drop(): Promise<void> {
    await this.pool.query(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`);
    await this.pool.end();
  }
}
