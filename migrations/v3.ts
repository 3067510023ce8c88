import { refuseInvalidIndex } from './invalid-index';

/**
 * Version 3: unique jobs (see lib/validation/unique-options.ts).
 *
 * - `unique_key`: a unique job's key (sha256 of its unique options, the
 *   values of the fields they name and its period bucket), kept for the job's
 *   whole life; null for other jobs.
 * - `unique_states`: the states in which the job holds its key (its own
 *   `unique.states`).
 * - A partial unique index over the keys of jobs in one of their counted
 *   states. Postgres keeps it true on every transition (ack, stage, snooze,
 *   rescue, cancel, retry): no trigger, and no cost to jobs without a key
 *   beyond the predicate's `unique_key IS NOT NULL`. Inserts conflict on it
 *   (`ON CONFLICT ... DO NOTHING` / `DO UPDATE` for `replace`).
 *
 * Locks: adding the two nullable columns without a default only changes the
 * catalog (instant at any size). Building the index reads the whole table and,
 * in a transaction, blocks writes to `oban_jobs` (inserts, claims, acks) while
 * it does. CONCURRENTLY can't run in a transaction, and each version runs in
 * one (db/migrate.ts, TypeORM's migrations): so migrate() runs onlineV3 first,
 * outside any transaction, when the table is large, and upV3 then finds the
 * index built; elsewhere, on a large table, a DBA runs onlineV3's statements
 * beforehand (README, "Unique jobs"). A concurrent build that failed leaves an
 * invalid index behind; this version refuses to go on over one instead of
 * silently keeping it.
 */
export function upV3(schema: string): string[] {
  return [
    `ALTER TABLE ${schema}.oban_jobs
       ADD COLUMN IF NOT EXISTS unique_key bytea,
       ADD COLUMN IF NOT EXISTS unique_states ${schema}.oban_job_state[]`,
    refuseInvalidIndex(schema, 'oban_jobs_unique_index'),
    uniqueIndexSql(schema, false),
  ];
}

export function downV3(schema: string): string[] {
  return [
    `DROP INDEX IF EXISTS ${schema}.oban_jobs_unique_index`,
    `ALTER TABLE ${schema}.oban_jobs DROP COLUMN IF EXISTS unique_states, DROP COLUMN IF EXISTS unique_key`,
  ];
}

/**
 * The slow part of upV3 without blocking writes, for migrate() on a large
 * table (and the recipe for a DBA): the columns, then the index built
 * concurrently. Each statement runs outside a transaction.
 */
export function onlineV3(schema: string): string[] {
  return [upV3(schema)[0], uniqueIndexSql(schema, true)];
}

/**
 * The unique index; `concurrently` gives the statement to run by hand, outside
 * a transaction, before migrating a large table. The predicate is the one
 * every unique insert names in its ON CONFLICT clause.
 */
export function uniqueIndexSql(schema: string, concurrently: boolean): string {
  return `CREATE UNIQUE INDEX ${concurrently ? 'CONCURRENTLY ' : ''}IF NOT EXISTS oban_jobs_unique_index
       ON ${schema}.oban_jobs (unique_key) WHERE unique_key IS NOT NULL AND state = ANY(unique_states)`;
}
