import type { PGlite, Results } from '@electric-sql/pglite';
import type { Database, ListenConnection, Notification, Queryable, Statement } from './database';
import { EmbeddedPglite } from './pglite-instance';
import { quoteIdent } from './pg-database';

/**
 * A Database over embedded PGlite: real Postgres compiled to WebAssembly,
 * running in this process, with the same SQL and migrations as a server.
 * PGlite is a single session, so every statement waits its turn on the
 * session lock, and a `session()` holds it for its whole length; nothing of
 * nest-oban's can ever land inside a transaction someone else opened.
 */
export class PgliteDatabase implements Database {
  readonly kind = 'pglite';
  readonly description: string;
  private closed = false;

  private constructor(private readonly embedded: EmbeddedPglite) {
    this.description = `embedded PGlite at ${embedded.dataDir}`;
  }

  static async open(dataDir: string): Promise<PgliteDatabase> {
    return new PgliteDatabase(await EmbeddedPglite.acquire(dataDir));
  }

  get dataDir(): string {
    return this.embedded.dataDir;
  }

  async query<R = any>(statement: Statement | string, values?: unknown[]): Promise<R[]> {
    return this.embedded.lock.run(() => runOn(this.embedded.pglite, statement, values));
  }

  async session<T>(fn: (session: Queryable) => Promise<T>): Promise<T> {
    const { pglite, lock } = this.embedded;
    return lock.run(() => fn({ query: (statement, values) => runOn(pglite, statement, values) }));
  }

  async connectListener(): Promise<ListenConnection> {
    return new PgliteListenConnection(this.embedded);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.embedded.release();
  }
}

/** One statement on the session; the caller holds the lock. */
export async function runOn<R>(pglite: PGlite, statement: Statement | string, values?: unknown[]): Promise<R[]> {
  return (await runRaw<R>(pglite, typeof statement === 'string' ? statement : statement.text, values)).rows;
}

/**
 * With parameters: one statement, extended protocol. Without: the simple
 * protocol, which also takes several statements (the result of the last is
 * returned, as node-postgres does for callers that read one).
 */
export async function runRaw<R>(pglite: PGlite, text: string, values?: unknown[]): Promise<Results<R>> {
  if (values && values.length > 0) return pglite.query<R>(text, values);
  const results = await pglite.exec(text);
  return (results[results.length - 1] ?? { rows: [], fields: [], affectedRows: 0 }) as Results<R>;
}

/**
 * LISTEN on the shared PGlite. Its LISTEN statements take the session lock
 * like any other. There is no connection to lose: it ends only when closed.
 */
class PgliteListenConnection implements ListenConnection {
  private readonly handlers: Array<(notification: Notification) => void> = [];
  private readonly endHandlers: Array<(error?: Error) => void> = [];
  private readonly unlisten: Array<() => Promise<void>> = [];
  private closed = false;

  constructor(private readonly embedded: EmbeddedPglite) {}

  async listen(channels: string[]): Promise<void> {
    for (const channel of channels) {
      const stop = await this.embedded.lock.run(() =>
        // Quoted: channel names such as 'public.oban_insert' are not plain identifiers.
        this.embedded.pglite.listen(quoteIdent(channel), (payload) => {
          if (this.closed) return;
          for (const handler of this.handlers) handler({ channel, payload });
        }),
      );
      this.unlisten.push(() => this.embedded.lock.run(() => stop()));
    }
  }

  onNotification(handler: (notification: Notification) => void): void {
    this.handlers.push(handler);
  }

  onEnd(handler: (error?: Error) => void): void {
    this.endHandlers.push(handler);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const stop of this.unlisten.splice(0)) await stop().catch(() => undefined);
  }
}
