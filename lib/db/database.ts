/**
 * What nest-oban needs from a database: run a statement, hold a session (for
 * migrations under an advisory lock), and open a LISTEN connection. The pg
 * Pool implementation lives in pg-database.ts; the embedded PGlite one in
 * pglite-database.ts.
 */

/** A statement with a stable name, so drivers can prepare it once per connection. */
export interface Statement {
  name: string;
  text: string;
}

/** Anything that can run SQL: a pool, a pooled client, a transaction's EntityManager. */
export interface Queryable {
  query<R = any>(statement: Statement | string, values?: unknown[]): Promise<R[]>;
}

/** One connection of a boundedSession. */
export interface BoundedSession extends Queryable {
  /** Runs `sql` (a PREPARE of `name`) unless this connection ran it before. */
  prepareOnce(name: string, sql: string): Promise<void>;
}

export interface Notification {
  channel: string;
  payload: string;
}

/** A dedicated connection that LISTENs. It ends on connection loss; the Notifier reconnects. */
export interface ListenConnection {
  listen(channels: string[]): Promise<void>;
  onNotification(handler: (notification: Notification) => void): void;
  /** Called once when the connection is lost or closed. */
  onEnd(handler: (error?: Error) => void): void;
  /**
   * A round trip, where the connection can die without a word (a network
   * socket): rejects, and the connection ends, when no answer comes in time.
   */
  ping?(): Promise<void>;
  close(): Promise<void>;
}

export interface Database extends Queryable {
  /** `postgres`: a server; `pglite`: embedded in this process; `none`: testing without a database. */
  readonly kind: 'postgres' | 'pglite' | 'none';
  /** Human-readable description for logs, never containing a password. */
  readonly description: string;
  /**
   * Behind a pooler in transaction mode: a session lasts one transaction, so
   * nothing may rely on one (session locks, SET, prepared statements). Unset: false.
   */
  readonly transactionPooled?: boolean;
  /** False when no LISTEN connection can be had (a transaction pooler, no direct URL): polling only. Unset: true. */
  readonly canListen?: boolean;
  /** Runs `fn` on one connection (a session), released afterwards. */
  session<T>(fn: (session: Queryable) => Promise<T>): Promise<T>;
  /**
   * As `session`, but its statements keep the pool's statement timeout (no
   * round trips to lift and restore it): for short transactions on the hot
   * path (a limited queue's claim). Unset: `session` serves.
   */
  boundedSession?<T>(fn: (session: BoundedSession) => Promise<T>): Promise<T>;
  connectListener(): Promise<ListenConnection>;
  /** Releases what this Database opened; a pool handed in by the user stays open. */
  close(): Promise<void>;
}
