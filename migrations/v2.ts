/**
 * Version 2: what several nodes sharing one database need.
 *
 * - `oban_nodes`: one row per running node, kept alive by its heartbeat. A node
 *   whose row expired is dead, and the jobs it left `executing` are rescued.
 * - `oban_peers`: the leader's lease (one row, name 'oban').
 *   Both are UNLOGGED: rewritten every second, worthless after a crash, and
 *   cheaper without WAL. The lifeline copes with their being emptied.
 * - `oban_queues`: queue state set at run time (paused, scaled limit), so a node
 *   that starts later applies it too.
 * - `oban_crons`: the last cron slot inserted per crontab entry; the guard that
 *   makes each slot run once whichever node is leader.
 * - Partial indexes the pruner reads, one per final state.
 */
export function upV2(schema: string): string[] {
  return [
    `CREATE UNLOGGED TABLE IF NOT EXISTS ${schema}.oban_nodes (
       node text PRIMARY KEY,
       queues text[] NOT NULL DEFAULT '{}',
       workers text[] NOT NULL DEFAULT '{}',
       started_at timestamptz NOT NULL DEFAULT now(),
       expires_at timestamptz NOT NULL
     )`,
    `CREATE UNLOGGED TABLE IF NOT EXISTS ${schema}.oban_peers (
       name text PRIMARY KEY DEFAULT 'oban',
       node text NOT NULL,
       elected_at timestamptz NOT NULL DEFAULT now(),
       expires_at timestamptz NOT NULL
     )`,
    `CREATE TABLE IF NOT EXISTS ${schema}.oban_queues (
       name text PRIMARY KEY,
       paused boolean, -- null: as each node is configured
       "limit" integer CHECK ("limit" IS NULL OR "limit" > 0), -- null: as configured
       updated_at timestamptz NOT NULL DEFAULT now()
     )`,
    `CREATE TABLE IF NOT EXISTS ${schema}.oban_crons (
       name text PRIMARY KEY,
       last_slot timestamptz NOT NULL
     )`,
    `CREATE INDEX IF NOT EXISTS oban_jobs_completed_at_index
       ON ${schema}.oban_jobs (completed_at) WHERE state = 'completed'`,
    `CREATE INDEX IF NOT EXISTS oban_jobs_cancelled_at_index
       ON ${schema}.oban_jobs (cancelled_at) WHERE state = 'cancelled'`,
    `CREATE INDEX IF NOT EXISTS oban_jobs_discarded_at_index
       ON ${schema}.oban_jobs (discarded_at) WHERE state = 'discarded'`,
  ];
}

export function downV2(schema: string): string[] {
  return [
    `DROP INDEX IF EXISTS ${schema}.oban_jobs_discarded_at_index`,
    `DROP INDEX IF EXISTS ${schema}.oban_jobs_cancelled_at_index`,
    `DROP INDEX IF EXISTS ${schema}.oban_jobs_completed_at_index`,
    `DROP TABLE IF EXISTS ${schema}.oban_crons`,
    `DROP TABLE IF EXISTS ${schema}.oban_queues`,
    `DROP TABLE IF EXISTS ${schema}.oban_peers`,
    `DROP TABLE IF EXISTS ${schema}.oban_nodes`,
  ];
}
