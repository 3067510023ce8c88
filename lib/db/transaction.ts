import type { Queryable } from './database';

/**
 * Runs `fn` in a transaction on `session` (one connection): `begin` opens it
 * (plain BEGIN, BEGIN READ ONLY, or BEGIN with statements that must follow it
 * in the same round trip), COMMIT when `fn` resolves, ROLLBACK when it throws
 * (a failed ROLLBACK leaves the first error to be reported).
 */
export async function inTransaction<T>(
  session: Queryable,
  fn: (tx: Queryable) => Promise<T>,
  begin = 'BEGIN',
): Promise<T> {
  await session.query(begin);
  try {
    const result = await fn(session);
    await session.query('COMMIT');
    return result;
  } catch (error) {
    await session.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
