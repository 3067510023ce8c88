import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { migrate } from '../../lib/db/migrate';
import { PgDatabase } from '../../lib/db/pg-database';

export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * A schema of its own for each test file (the `prefix` option), so files never
 * see each other's jobs or notifications. Dropped by `drop()`.
 */
export class TestSchema {
  readonly prefix: string;
  readonly pool: Pool;

  constructor(label: string) {
    this.prefix = `t_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomBytes(3).toString('hex')}`;
    this.pool = new Pool({ connectionString: DATABASE_URL, max: 4 });
  }

  /** `oban_jobs` of this schema, quoted for SQL. */
  get jobs(): string {
    return `"${this.prefix}".oban_jobs`;
  }

  async query<R = any>(sql: string, params?: unknown[]): Promise<R[]> {
    return (await this.pool.query(sql, params)).rows;
  }

  async count(where = 'true', params?: unknown[]): Promise<number> {
    const [row] = await this.query(`SELECT count(*)::int AS n FROM ${this.jobs} WHERE ${where}`, params);
    return row.n;
  }

  /** Creates nest-oban's tables in this schema, as `migrate: true` would. */
  async migrate(): Promise<void> {
    const db = PgDatabase.fromUrl(DATABASE_URL, 2);
    try {
      await migrate(db, this.prefix);
    } finally {
      await db.close();
    }
  }

  async drop(): Promise<void> {
    await this.pool.query(`DROP SCHEMA IF EXISTS "${this.prefix}" CASCADE`);
    await this.pool.end();
  }
}
