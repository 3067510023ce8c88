/**
 * Version 6: global, rate and partitioned limits (README, "Global, rate and
 * partitioned limits"; lib/store/limited-claim.ts).
 *
 * - `oban_queues.limits`: the limits set at run time (`scaleQueue`), as one
 *   JSON object of the keys that were changed (`globalLimit`, `rateLimit`,
 *   `partition`; a null value removes the configured one). Null: as each node
 *   is configured. One column merged with `||`, so a change names only what it
 *   changes, as `paused` and `limit` do.
 * - `oban_rate_starts`: the starts a rate-limited queue made in its window,
 *   one row per claim and partition with how many jobs it started, written and
 *   pruned by the claim itself under the queue's advisory lock. Queues without
 *   a rate limit never touch it, and `oban_jobs` gets no index for it.
 *
 * Both are plain catalog changes or a new small table: no lock on `oban_jobs`.
 */
export function upV6(schema: string): string[] {
  return [
    `ALTER TABLE ${schema}.oban_queues ADD COLUMN IF NOT EXISTS limits jsonb`,
    `CREATE TABLE IF NOT EXISTS ${schema}.oban_rate_starts (
       queue text NOT NULL,
       partition text NOT NULL DEFAULT '',
       started_at timestamptz NOT NULL,
       started integer NOT NULL CHECK (started > 0)
     )`,
    `CREATE INDEX IF NOT EXISTS oban_rate_starts_queue_started_at_index
       ON ${schema}.oban_rate_starts (queue, started_at)`,
  ];
}

export function downV6(schema: string): string[] {
  return [
    `DROP TABLE IF EXISTS ${schema}.oban_rate_starts`,
    `ALTER TABLE ${schema}.oban_queues DROP COLUMN IF EXISTS limits`,
  ];
}
