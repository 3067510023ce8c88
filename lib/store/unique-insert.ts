import type { Queryable } from '../db/database';
import type { Statements } from '../db/statements';
import { ObanError } from '../errors';
import { type InsertedJob, type Job, jobFromRow } from '../job';
import type { InsertRow } from './job-store';

/** Tries before giving up on a batch whose duplicates keep leaving their counted states. */
const MAX_ROUNDS = 5;

/** A row of the unique insert statements (see uniqueInsertSql in db/statements.ts). */
interface UniqueInsertRow extends Record<string, any> {
  /** Null on a written row; the input row's index otherwise. */
  ord: number | null;
  nth: string | number | null;
  fresh: boolean | null;
  key_hex: string | null;
  /** The job's id; null on an input row whose key no job held in the snapshot. */
  id: string | number | null;
}

/**
 * Inserts a batch of which some rows are unique jobs, in one statement when no
 * other transaction is committing a duplicate at the same moment. Returns the
 * jobs in input order: each stored job (`conflict: false` when unique), or for
 * a duplicate the job holding its key (`conflict: true`), never nothing.
 *
 * A duplicate committed by another transaction while the insert waited on it
 * is read with a second statement (a new snapshot); one that left its counted
 * states meanwhile is inserted again. A holder whose transaction rolled back
 * never conflicts: the insert waited for it, then stored its own job.
 */
export async function insertUniqueJobs(via: Queryable, sql: Statements, rows: InsertRow[]): Promise<InsertedJob[]> {
  const jobs: Array<InsertedJob | undefined> = new Array(rows.length);
  let pending = rows.map((row, ord) => ({ ...row, ord }));
  for (let round = 1; pending.length > 0; round++) {
    if (round > MAX_ROUNDS) {
      throw new ObanError(
        `nest-oban: unique insert: the duplicates of ${pending.length} job(s) left their counted states ` +
          `${MAX_ROUNDS} times while being read; nothing more was inserted for them`,
      );
    }
    const statement = pending.some((r) => r.unique_replace) ? sql.insertUniqueJobsReplacing : sql.insertUniqueJobs;
    const result = await via.query<UniqueInsertRow>(statement, [JSON.stringify(pending)]);
    const unresolved = resolve(result, jobs, new Set(pending.map((r) => r.ord)));
    if (unresolved.size === 0) break;

    // Holders committed while the insert waited on them: a new statement sees them.
    const holders = await via.query<UniqueInsertRow>(sql.uniqueHolders, [[...unresolved.keys()]]);
    for (const holder of holders) {
      for (const ord of unresolved.get(holder.key_hex!) ?? []) jobs[ord] = { ...jobFromRow(holder), conflict: true };
      unresolved.delete(holder.key_hex!);
    }
    const again = new Set([...unresolved.values()].flat());
    pending = pending.filter((r) => again.has(r.ord));
  }
  return jobs as InsertedJob[];
}

/**
 * Fills `jobs` from one run of the statement; returns the input rows (their
 * ords by key) whose key is held by a job the statement could not see.
 */
function resolve(result: UniqueInsertRow[], jobs: Array<InsertedJob | undefined>, sent: Set<number>) {
  const written = result.filter((r) => r.ord === null);
  const byKey = new Map(written.filter((w) => w.key_hex !== null).map((w) => [w.key_hex!, w]));
  // Rows without a key are all inserted, ids in input order.
  const plain = written.filter((w) => w.key_hex === null).sort((a, b) => Number(a.id) - Number(b.id));
  const inputs = result.filter((r) => r.ord !== null).sort((a, b) => a.ord! - b.ord!);
  const unresolved = new Map<string, number[]>();
  let nextPlain = 0;
  for (const input of inputs) {
    const ord = input.ord!;
    if (!sent.has(ord)) throw new Error(`nest-oban: unique insert returned row ${ord}, which was not sent`);
    if (input.key_hex === null) {
      const row = plain[nextPlain++];
      if (!row) throw new Error(`nest-oban: unique insert stored fewer plain jobs than it was given`);
      jobs[ord] = jobFromRow(row);
      continue;
    }
    const mine = byKey.get(input.key_hex);
    if (mine) {
      // The batch's first row of a key stored it, unless it replaced a stored job.
      jobs[ord] = { ...jobFromRow(mine), conflict: !(Number(input.nth) === 1 && mine.fresh) };
    } else if (input.id !== null) {
      jobs[ord] = { ...jobFromRow(input), conflict: true };
    } else {
      unresolved.set(input.key_hex, [...(unresolved.get(input.key_hex) ?? []), ord]);
    }
  }
  return unresolved;
}

/** The job whose key a job's retry would take (the unique index refused it). */
export function uniqueHolderError(id: number, holder: Job | undefined): ObanError {
  return new ObanError(
    `retryJob(${id}): job ${id} is unique and ` +
      (holder ? `job ${holder.id} (${holder.state}) holds its key now` : `another job holds its key now`) +
      `; retrying it would duplicate that job. Cancel or delete the other job first, or insert a new one`,
  );
}
