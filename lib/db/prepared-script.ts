import { escapeLiteral } from 'pg';
import type { Database, Queryable, Statement } from './database';
import { quoteIdent } from './pg-database';

/**
 * Claims as one text for Postgres's simple protocol: one round trip for the
 * whole transaction, and, where the statement is prepared on the connection,
 * its generic plan. A claim's custom plan is made afresh each time (its LIMIT
 * is a parameter, so Postgres keeps choosing custom plans), which costs about
 * as much as running it; a claim written to read by index and id (`id =
 * ANY(ARRAY(...))`) has a generic plan as good, made once per connection.
 * test/plans.test.ts and test/limits.test.ts check those plans on large tables.
 */

/** `statements` (SQL texts) and `claim` with its values written in as literals, between BEGIN and COMMIT. */
export function literalScript(statements: string[], claim: Statement, values: unknown[]): string {
  const text = claim.text.replace(/\$(\d+)/g, (_, n: string) => literal(values[Number(n) - 1]));
  return ['BEGIN', ...statements, text, 'COMMIT'].join('; ');
}

/** Whether `db` runs claims prepared on their connection: a server reached directly, not through a transaction pooler. */
export function runsPrepared(db: Database): db is Database & Required<Pick<Database, 'boundedSession'>> {
  return db.kind === 'postgres' && db.boundedSession !== undefined && !db.transactionPooled;
}

/**
 * `statements`, then EXECUTE of `claim` with `values` by its generic plan,
 * between BEGIN and COMMIT, in one round trip on one connection, once that
 * connection has prepared the claim. If the server forgot it meanwhile
 * (26000: a DISCARD ALL, say), prepares it again and runs the text again. An
 * error rolls the script's transaction back.
 */
export function runPrepared(
  db: Database & Required<Pick<Database, 'boundedSession'>>,
  statements: string[],
  claim: Statement,
  values: unknown[],
): Promise<unknown[]> {
  const name = preparedName(claim);
  const prepare = `PREPARE ${name} AS ${claim.text}`;
  const text = [
    'BEGIN',
    'SET LOCAL plan_cache_mode = force_generic_plan',
    ...statements,
    `EXECUTE ${name}(${values.map(literal).join(', ')})`,
    'COMMIT',
  ].join('; ');
  return db.boundedSession(async (session) => {
    await session.prepareOnce(claim.name, prepare);
    try {
      return await runScript(session, text);
    } catch (error) {
      if ((error as { code?: string }).code !== '26000') throw error;
      await session.query(prepare);
      return runScript(session, text);
    }
  });
}

/** A script of statements in a transaction of its own; an error rolls it back. */
export async function runScript(session: Queryable, text: string): Promise<unknown[]> {
  try {
    return await session.query(text);
  } catch (error) {
    await session.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** Not the name pg gives its own prepared statements (the statement's), so the two never clash. */
function preparedName(claim: Statement): string {
  return quoteIdent(`x${claim.name}`.slice(0, 63));
}

/** A claim parameter as SQL: null, a whole number, a string, or an array of them (cast where used). */
function literal(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`nest-oban: a claim parameter must be a whole number, got ${value}`);
    return String(value);
  }
  if (typeof value === 'string') return escapeLiteral(value);
  if (Array.isArray(value)) return value.length === 0 ? `'{}'` : `ARRAY[${value.map(literal).join(', ')}]`;
  throw new Error(`nest-oban: cannot write ${typeof value} into a claim`);
}
