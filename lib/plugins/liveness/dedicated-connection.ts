import { Client, type ClientConfig } from 'pg';
import type { Queryable, Statement } from '../../db/database';

/**
 * One database connection of its own, opened on first use and again after
 * any failure. `session` counts the connections opened, so whoever holds
 * something per session (the node name's advisory lock) knows when to take
 * it again. Connecting and each statement give up after `timeoutMs`, so a
 * lost network never stalls the caller's loop.
 */
export class DedicatedConnection implements Queryable {
  private client: Promise<Client> | undefined;
  private opened = 0;

  constructor(
    private readonly config: ClientConfig,
    private readonly timeoutMs: number,
  ) {}

  /** How many connections were opened so far (the current one is the last). */
  get session(): number {
    return this.opened;
  }

  async query<R = any>(statement: Statement | string, values?: unknown[]): Promise<R[]> {
    const pending = this.connected();
    try {
      const client = await pending;
      const query = typeof statement === 'string' ? { text: statement, values } : { ...statement, values };
      return (await client.query(query)).rows as R[];
    } catch (error) {
      // Whatever failed, the next statement starts on a fresh connection.
      this.drop(pending);
      throw error;
    }
  }

  async close(): Promise<void> {
    const pending = this.client;
    this.client = undefined;
    const client = await pending?.catch(() => undefined);
    await client?.end().catch(() => undefined);
  }

  private connected(): Promise<Client> {
    if (!this.client) {
      const client = new Client({
        ...this.config,
        keepAlive: true,
        connectionTimeoutMillis: this.timeoutMs,
        query_timeout: this.timeoutMs,
      });
      const pending = client.connect().then(() => client);
      client.on('error', () => this.drop(pending));
      this.opened++;
      this.client = pending;
    }
    return this.client;
  }

  private drop(pending: Promise<Client>): void {
    if (this.client !== pending) return;
    this.client = undefined;
    void pending.then((client) => client.end()).catch(() => undefined);
  }
}
