import type { Database, Queryable } from '../db/database';
import { inTransaction as onSession } from '../db/transaction';

/**
 * Runs `fn` in a transaction: the caller's (`via`, a transaction's manager)
 * when given, else one of its own on one connection.
 */
export function inTransaction<T>(
  db: Database,
  via: Queryable | undefined,
  fn: (q: Queryable) => Promise<T>,
): Promise<T> {
  if (via) return fn(via);
  return db.session((session) => onSession(session, fn));
}
