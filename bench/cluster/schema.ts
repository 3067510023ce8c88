import { Pool } from 'pg';
import { migrate } from '../../lib/db/migrate';
import { PgDatabase } from '../../lib/db/pg-database';
import { dropSchema, uniqueSchema } from '../common/database';

/** A nest-oban schema of its own (the `prefix` option) for one measurement, migrated; `drop()` removes it. */
export class BenchSchema {
  private readonly pool: Pool;

  private constructor(
    private readonly url: string,
    readonly prefix: string,
  ) {
    this.pool = new Pool({ connectionString: url, max: 2 });
  }

  static async create(url: string, label: string): Promise<BenchSchema> {
    const prefix = uniqueSchema(label);
    const db = PgDatabase.fromUrl(url, 2);
    try {
      await migrate(db, prefix);
    } finally {
      await db.close();
    }
    return new BenchSchema(url, prefix);
  }

  /** `oban_jobs` of this schema, quoted for SQL. */
  get jobs(): string {
    return `"${this.prefix}".oban_jobs`;
  }

  async query<R = any>(sql: string, params?: unknown[]): Promise<R[]> {
    return (await this.pool.query(sql, params)).rows;
  }

  async count(where: string, params?: unknown[]): Promise<number> {
    const [row] = await this.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${this.jobs} WHERE ${where}`, params);
    return row.n;
  }

  async drop(): Promise<void> {
    await this.pool.end();
    await dropSchema(this.url, this.prefix);
  }
}
