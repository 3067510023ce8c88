import { Client, Pool, type PoolConfig } from 'pg';
import type { Database, ListenConnection, Notification, Queryable, Statement } from './database';

/** A Database over a node-postgres Pool: one nest-oban creates from a URL, or the user's own. */
export class PgDatabase implements Database {
  readonly kind = 'postgres';

  private constructor(
    private readonly pool: Pool,
    private readonly ownsPool: boolean,
    readonly description: string,
  ) {}

  static fromUrl(url: string, max = 10): PgDatabase {
    // allowExitOnIdle: idle connections never keep a process alive (one whose boot failed, say).
    const pool = new Pool({ connectionString: url, max, application_name: 'nest-oban', allowExitOnIdle: true });
    pool.on('error', () => undefined); // an idle client died; the pool replaces it
    return new PgDatabase(pool, true, describeUrl(url));
  }

  /** Shares an existing pool (e.g. a TypeORM DataSource's); closing is left to its owner. */
  static fromPool(pool: Pool, description = 'a shared pg Pool'): PgDatabase {
    return new PgDatabase(pool, false, description);
  }

  async query<R = any>(statement: Statement | string, values?: unknown[]): Promise<R[]> {
    const result = await this.pool.query(toConfig(statement, values));
    return result.rows as R[];
  }

  async session<T>(fn: (session: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      return await fn({
        query: async (statement, values) => (await client.query(toConfig(statement, values))).rows,
      });
    } finally {
      client.release();
    }
  }

  async connectListener(): Promise<ListenConnection> {
    const client = new Client({ ...(this.pool.options as PoolConfig), keepAlive: true });
    await client.connect();
    return new PgListenConnection(client);
  }

  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.end();
  }
}

class PgListenConnection implements ListenConnection {
  private ended = false;
  private endHandlers: Array<(error?: Error) => void> = [];

  constructor(private readonly client: Client) {
    const end = (error?: Error) => {
      if (this.ended) return;
      this.ended = true;
      for (const handler of this.endHandlers) handler(error);
    };
    client.on('error', (error) => {
      end(error);
      void client.end().catch(() => undefined);
    });
    client.on('end', () => end());
  }

  async listen(channels: string[]): Promise<void> {
    if (channels.length === 0) return;
    await this.client.query(channels.map((c) => `LISTEN ${quoteIdent(c)}`).join('; '));
  }

  onNotification(handler: (notification: Notification) => void): void {
    this.client.on('notification', (msg) => handler({ channel: msg.channel, payload: msg.payload ?? '' }));
  }

  onEnd(handler: (error?: Error) => void): void {
    this.endHandlers.push(handler);
  }

  async close(): Promise<void> {
    this.ended = true;
    await this.client.end().catch(() => undefined);
  }
}

function toConfig(statement: Statement | string, values?: unknown[]) {
  return typeof statement === 'string'
    ? { text: statement, values }
    : { name: statement.name, text: statement.text, values };
}

export function quoteIdent(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `postgres://${u.username ? u.username + '@' : ''}${u.host}${u.pathname}`;
  } catch {
    return 'postgres (URL not shown)';
  }
}
