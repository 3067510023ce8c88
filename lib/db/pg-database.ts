import { Logger } from '@nestjs/common';
import { Client, type ClientConfig, Pool, type PoolClient, type PoolConfig, type QueryResult } from 'pg';
import type { BoundedSession, Database, ListenConnection, Queryable, Statement } from './database';
import { PgListenConnection } from './pg-listen-connection';
import { isReadTimeout, withReadTimeout } from './pg-query';
import { OBAN_PG_TYPES } from './pg-types';
import { type TransactionPooler, transactionPoolConfig } from './transaction-pooler';

export { quoteIdent } from './pg-query';

/** How long nest-oban waits on Postgres (the `statementTimeout` and `connectTimeout` options). */
export interface DatabaseTimeouts {
  /** ms a statement may run; the server cancels it after that. */
  statement: number;
  /** ms to get a connection, and for the server to answer once a statement's time is up. */
  connect: number;
}

export const DEFAULT_DATABASE_TIMEOUTS: DatabaseTimeouts = { statement: 15_000, connect: 5_000 };

/** Idle time before TCP keepalive probes: keeps middleboxes from dropping quiet connections. */
const KEEPALIVE_IDLE_MS = 10_000;

/**
 * A Database over a node-postgres Pool: one nest-oban creates from a URL, or
 * the user's own. Every statement is bounded: the server cancels it at the
 * statement timeout (on pools nest-oban opens), and the client gives up when
 * no answer came `connect` ms after that (a dead socket), dropping that
 * connection.
 */
export class PgDatabase implements Database {
  readonly kind = 'postgres';
  readonly transactionPooled: boolean;
  readonly canListen: boolean;
  private readonly answerWithinMs: number;
  /** The statements each connection has prepared by name (boundedSession's prepareOnce). */
  private readonly preparedOn = new WeakMap<PoolClient, Set<string>>();
  private readonly onIdleError = (error: Error) =>
    this.logger.warn(`an idle connection of ${this.description} failed (${error.message}); the pool replaces it`);

  private constructor(
    private readonly pool: Pool,
    private readonly ownsPool: boolean,
    readonly description: string,
    private readonly timeouts: DatabaseTimeouts,
    private readonly logger: Logger,
    /** Set: behind a pooler in transaction mode (see transaction-pooler.ts). */
    private readonly pooler?: TransactionPooler,
  ) {
    this.answerWithinMs = timeouts.statement + timeouts.connect;
    this.transactionPooled = pooler !== undefined;
    this.canListen = pooler === undefined || pooler.direct !== undefined;
    // An idle client that dies (a server restart) is an 'error' event: unheard, it would crash the process.
    if (!ownsPool) pool.on('error', this.onIdleError);
  }

  static fromUrl(
    url: string,
    max = 10,
    timeouts = DEFAULT_DATABASE_TIMEOUTS,
    logger = new Logger('Oban'),
    pooler?: TransactionPooler,
  ): PgDatabase {
    const config: PoolConfig = {
      connectionString: url,
      max,
      application_name: 'nest-oban',
      // Idle connections never keep a process alive (one whose boot failed, say).
      allowExitOnIdle: true,
      statement_timeout: timeouts.statement,
      connectionTimeoutMillis: timeouts.connect,
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_IDLE_MS,
      types: OBAN_PG_TYPES,
    };
    const pool = new Pool(pooler ? transactionPoolConfig(config) : config);
    pool.on('error', () => undefined); // an idle client died; the pool replaces it
    return new PgDatabase(pool, true, describeUrl(url), timeouts, logger, pooler);
  }

  /**
   * Shares an existing pool (e.g. a TypeORM DataSource's); closing is left to
   * its owner. Its settings stay as they are: statements are bounded on this
   * side only.
   */
  static fromPool(
    pool: Pool,
    description = 'a shared pg Pool',
    timeouts = DEFAULT_DATABASE_TIMEOUTS,
    logger = new Logger('Oban'),
    pooler?: TransactionPooler,
  ): PgDatabase {
    return new PgDatabase(pool, false, description, timeouts, logger, pooler);
  }

  async query<R = any>(statement: Statement | string, values?: unknown[]): Promise<R[]> {
    const config = withReadTimeout(toConfig(statement, values, this.pooler), this.answerWithinMs);
    return this.unansweredSaid(() => this.using(async (client) => (await client.query(config)).rows as R[]));
  }

  /** A read timeout (the connection went silent; `using` dropped it) as an error saying so. */
  private async unansweredSaid<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (!isReadTimeout(error)) throw error;
      throw new Error(
        `no answer from the database within ${this.answerWithinMs} ms ` +
          `(statementTimeout ${this.timeouts.statement} ms + connectTimeout ${this.timeouts.connect} ms); ` +
          `the connection was dropped`,
      );
    }
  }

  /**
   * One connection for `fn`, its statements under the pool's own timeout (see
   * Database.boundedSession). A text of several statements (no parameters)
   * returns the rows of all of them, in order.
   */
  async boundedSession<T>(fn: (session: BoundedSession) => Promise<T>): Promise<T> {
    // Bounded on this side too, as query() is: a connection gone silent mid-claim is dropped, not waited on.
    return this.unansweredSaid(() =>
      this.using((client) => {
        const query = async (statement: Statement | string, values?: unknown[]) => {
          const config = withReadTimeout(toConfig(statement, values, this.pooler), this.answerWithinMs);
          const result: QueryResult | QueryResult[] = await client.query(config);
          return Array.isArray(result) ? result.flatMap((r) => r.rows) : result.rows;
        };
        const prepareOnce = async (name: string, sql: string) => {
          // Kept with the client object, which lives as long as its connection.
          const names = this.preparedOn.get(client) ?? new Set<string>();
          if (names.has(name)) return;
          await query(sql);
          this.preparedOn.set(client, names.add(name));
        };
        return fn({ query, prepareOnce });
      }),
    );
  }

  /** One connection for `fn`, unbounded: migrations may wait for each other's lock and build indexes. */
  async session<T>(fn: (session: Queryable) => Promise<T>): Promise<T> {
    return this.using(async (client) => {
      // Behind a transaction pooler a SET would stay on whichever server connection ran it: none is sent.
      const setTimeouts = this.ownsPool && !this.pooler;
      if (setTimeouts) await client.query('SET statement_timeout = 0');
      const result = await fn({
        query: async (statement, values) => (await client.query(toConfig(statement, values, this.pooler))).rows,
      });
      if (setTimeouts) await client.query('RESET statement_timeout');
      return result;
    });
  }

  /**
   * The pool's connection settings, for a connection of its own (the
   * heartbeat's). pg-pool hides the password and the TLS key from
   * enumeration; they are copied here explicitly.
   */
  connectionConfig(): ClientConfig {
    const options = this.pool.options as PoolConfig;
    const ssl = options.ssl && typeof options.ssl === 'object' ? { ...options.ssl, key: options.ssl.key } : options.ssl;
    return { ...options, password: options.password, ssl };
  }

  /**
   * Settings for a connection whose session lasts (LISTEN, the node name's
   * lock): the pool's, or behind a transaction pooler the direct URL's;
   * undefined when there is none.
   */
  sessionConfig(): ClientConfig | undefined {
    if (!this.pooler) return this.connectionConfig();
    const direct = this.pooler.direct;
    return direct === undefined ? undefined : { connectionString: direct, application_name: 'nest-oban' };
  }

  async connectListener(): Promise<ListenConnection> {
    const session = this.sessionConfig();
    if (!session) {
      throw new Error(`behind a transaction pooler without directConnection, ${this.description} cannot LISTEN`);
    }
    const client = new Client({
      ...session,
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_IDLE_MS,
      connectionTimeoutMillis: this.timeouts.connect,
    });
    await client.connect();
    return new PgListenConnection(client, this.timeouts.connect);
  }

  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.end();
    else this.pool.removeListener('error', this.onIdleError);
  }

  /**
   * Runs `fn` on a client of the pool. A client that failed leaves the pool,
   * as with pool.query; one whose answer never came is dropped at once.
   */
  private async using<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.acquire();
    // A checked-out client reports a lost connection as an 'error' event too: the statement's rejection says it.
    const onError = () => undefined;
    client.on('error', onError);
    try {
      const result = await fn(client);
      client.removeListener('error', onError);
      client.release();
      return result;
    } catch (error) {
      if (isReadTimeout(error)) client.connection.stream.destroy();
      client.removeListener('error', onError);
      client.release(error as Error);
      throw error;
    }
  }

  /** A client of the pool; a shared pool's wait is bounded here, ours by its own connectionTimeoutMillis. */
  private acquire(): Promise<PoolClient> {
    if (this.ownsPool) return this.pool.connect();
    const ms = this.timeouts.connect;
    return new Promise((resolve, reject) => {
      let late = false;
      const timer = setTimeout(() => {
        late = true;
        reject(new Error(`${this.description} gave no connection within connectTimeout (${ms} ms)`));
      }, ms);
      this.pool.connect().then(
        (client) => {
          clearTimeout(timer);
          if (late) client.release();
          else resolve(client);
        },
        (error) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }
}

function toConfig(statement: Statement | string, values?: unknown[], pooler?: TransactionPooler) {
  return typeof statement === 'string' || pooler
    ? { text: typeof statement === 'string' ? statement : statement.text, values }
    : { name: statement.name, text: statement.text, values };
}

function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `postgres://${u.username ? u.username + '@' : ''}${u.host}${u.pathname}`;
  } catch {
    return 'postgres (URL not shown)';
  }
}
