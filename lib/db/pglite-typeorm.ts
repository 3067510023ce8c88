import { EventEmitter } from 'node:events';
import type { Results } from '@electric-sql/pglite';
import { ObanError } from '../errors';
import { isWorkerProcess } from '../util/process-role';
import { EmbeddedPglite, resolveDataDir } from './pglite-instance';
import { runRaw } from './pglite-database';

/** What `embeddedTypeOrmOptions` returns: spread it into TypeORM's DataSource options. */
export interface EmbeddedTypeOrmOptions {
  type: 'postgres';
  /** A node-postgres look-alike whose Pool runs on the embedded PGlite. */
  driver: { Pool: new (config?: Record<string, unknown>) => PglitePool };
  database: string;
  /**
   * Set in a worker process (`cpu: true` jobs), for @nestjs/typeorm: the
   * embedded database lives in the main process, so the DataSource there is
   * left unconnected instead of failing the worker process's boot.
   */
  manualInitialization?: true;
}

/**
 * TypeORM options that put a DataSource on the same embedded PGlite database
 * nest-oban uses when no `connection` is set (same data dir: the option, env
 * OBAN_PGLITE_DIR, or ./.pglite), so entities and jobs share one database and
 * one transaction:
 *
 *   TypeOrmModule.forRoot({
 *     ...(process.env.DATABASE_URL ? { type: 'postgres', url: process.env.DATABASE_URL } : embeddedTypeOrmOptions()),
 *     entities: [User],
 *   })
 *
 * Each connection TypeORM takes from the pool holds PGlite's single session
 * until TypeORM releases it, so a transaction runs alone from BEGIN to COMMIT.
 *
 * A worker process of the pool boots the app's global modules, TypeORM's
 * included, but cannot open the database the main process owns: there the
 * DataSource stays unconnected (`manualInitialization`), and a query says why.
 */
export function embeddedTypeOrmOptions(options: { dataDir?: string } = {}): EmbeddedTypeOrmOptions {
  const dataDir = resolveDataDir(options.dataDir);
  class Pool extends PglitePool {
    constructor(config: Record<string, unknown> = {}) {
      super(dataDir, config);
    }
  }
  const embedded: EmbeddedTypeOrmOptions = { type: 'postgres', driver: { Pool }, database: 'postgres' };
  if (isWorkerProcess()) embedded.manualInitialization = true;
  return embedded;
}

type Callback<T> = (error: Error | undefined, value?: T) => void;

/** node-postgres' result shape, as TypeORM reads it. */
interface PgResult {
  rows: any[];
  rowCount: number;
  command: string;
  fields: Array<{ name: string; dataTypeID: number }>;
}

/** The subset of pg.Pool that TypeORM's postgres driver uses. */
export class PglitePool extends EventEmitter {
  private embedded: Promise<EmbeddedPglite> | undefined;
  private ended = false;

  constructor(
    readonly dataDir: string,
    readonly options: Record<string, unknown>,
  ) {
    super();
  }

  get totalCount(): number {
    return 1;
  }

  /** Hands out the session: nobody else runs a statement until `release()`. */
  connect(): Promise<PgliteClient>;
  connect(
    callback: (error: Error | undefined, client?: PgliteClient, release?: (error?: unknown) => void) => void,
  ): void;
  connect(
    callback?: (error: Error | undefined, client?: PgliteClient, release?: (error?: unknown) => void) => void,
  ): Promise<PgliteClient> | void {
    const client = (async () => {
      if (this.ended) throw new ObanError('the embedded PGlite pool has been ended');
      if (isWorkerProcess()) {
        throw new ObanError(
          `the embedded PGlite database ${this.dataDir} belongs to the main process; code in a worker process ` +
            `(cpu: true jobs) cannot query it. Do database work in the main process (a worker without cpu: true), ` +
            `or set DATABASE_URL to a Postgres server that every process can reach`,
        );
      }
      const embedded = await this.instance();
      return new PgliteClient(embedded, await embedded.lock.acquire());
    })();
    if (!callback) return client;
    client.then(
      (c) => callback(undefined, c, () => c.release()),
      (error) => callback(error),
    );
  }

  async query(text: string | { text: string; values?: unknown[] }, values?: unknown[]): Promise<PgResult> {
    const client = await this.connect();
    try {
      return await client.query(text, values);
    } finally {
      client.release();
    }
  }

  end(callback?: Callback<void>): Promise<void> | void {
    const done = (async () => {
      if (this.ended) return;
      this.ended = true;
      if (this.embedded) await (await this.embedded).release();
    })();
    if (!callback) return done;
    done.then(
      () => callback(undefined),
      (error) => callback(error),
    );
  }

  private instance(): Promise<EmbeddedPglite> {
    this.embedded ??= EmbeddedPglite.acquire(this.dataDir);
    return this.embedded;
  }
}

/** A checked-out "connection": the session, held until released. */
export class PgliteClient extends EventEmitter {
  private released = false;

  constructor(
    private readonly embedded: EmbeddedPglite,
    private readonly giveBack: () => void,
  ) {
    super();
  }

  async query(query: string | { text: string; values?: unknown[] }, values?: unknown[]): Promise<PgResult> {
    if (this.released) throw new ObanError('query on an embedded PGlite client that was released');
    if (typeof query !== 'string' && typeof query?.text !== 'string') {
      throw new ObanError('the embedded PGlite driver runs SQL text only (no query streams or cursors)');
    }
    const text = typeof query === 'string' ? query : query.text;
    const params = typeof query === 'string' ? values : (query.values ?? values);
    return toPgResult(text, await runRaw(this.embedded.pglite, text, params));
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.giveBack();
  }
}

function toPgResult(text: string, result: Results<any>): PgResult {
  const command = commandOf(text);
  const changes = ['INSERT', 'UPDATE', 'DELETE', 'MERGE'].includes(command);
  return {
    rows: result.rows,
    rowCount: changes ? (result.affectedRows ?? 0) : result.rows.length,
    command,
    fields: result.fields,
  };
}

/** The command tag node-postgres would report, read from the statement (the last one, for several). */
function commandOf(text: string): string {
  const statements = text.split(';').filter((s) => s.trim() !== '');
  const last = statements[statements.length - 1] ?? '';
  const word = /^\s*(?:--[^\n]*\n\s*)*([A-Za-z]+)/.exec(last)?.[1]?.toUpperCase() ?? '';
  if (word !== 'WITH') return word;
  return /\b(INSERT|UPDATE|DELETE)\b[^()]*$/i.exec(last)?.[1]?.toUpperCase() ?? 'SELECT';
}
