import type { Database, Queryable } from '../db/database';
import { ObanError } from '../errors';
import { inTransaction } from '../db/transaction';

/**
 * Runs the dashboard's reads on one connection, in a READ ONLY transaction
 * whose statements the server cancels after `timeoutMs` each (SET LOCAL, so
 * the setting ends with the transaction and never leaks into the pool). This
 * bounds them on any pool, the user's shared one too, and on PGlite.
 */
export class BoundedReads {
  constructor(
    private readonly db: Database,
    private readonly timeoutMs: number,
  ) {}

  async run<T>(fn: (reads: Queryable) => Promise<T>): Promise<T> {
    if (this.db.kind === 'none') {
      throw new ObanError('the Oban dashboard needs a database, and this node has none (testing without a connection)');
    }
    return this.db.session((session) =>
      inTransaction(
        session,
        async (reads) => {
          await reads.query(`SET LOCAL statement_timeout = ${Math.round(this.timeoutMs)}`);
          return fn(reads);
        },
        'BEGIN READ ONLY',
      ),
    );
  }

  /** `reads` as a Database, for the stores whose queries the dashboard reuses (ClusterStore). */
  static asDatabase(reads: Queryable, of: Database): Database {
    return {
      kind: of.kind,
      description: of.description,
      query: (statement, values) => reads.query(statement, values),
      session: (fn) => fn(reads),
      connectListener: () => Promise.reject(new ObanError('no LISTEN connection inside a dashboard read')),
      close: async () => undefined,
    };
  }
}
