import type { Statement } from './database';
import { quoteIdent } from './pg-database';

/** Names and tidies statements of one schema prefix, so pg prepares each once per connection. */
export function statementNamer(prefix: string): (name: string, text: string) => Statement {
  return (name, text) => ({ name: `oban_${name}_${prefix}`.slice(0, 63), text: text.replace(/\s+/g, ' ').trim() });
}

/** The tables and channels of one schema prefix, quoted for SQL. */
export function schemaNames(prefix: string) {
  const schema = quoteIdent(prefix);
  return {
    jobs: `${schema}.oban_jobs`,
    stateType: `${schema}.oban_job_state`,
    nodes: `${schema}.oban_nodes`,
    peers: `${schema}.oban_peers`,
    queues: `${schema}.oban_queues`,
    crons: `${schema}.oban_crons`,
    /** Shares of queues' global limits leased to nodes (migrations/v8.ts). */
    limitShares: `${schema}.oban_limit_shares`,
    /** NOTIFY channel woken by inserts and staging; payload: the queue name. */
    insertChannel: `${prefix}.oban_insert`,
    /** NOTIFY channel for queue, job and leader signals; payload: JSON. */
    signalChannel: `${prefix}.oban_signal`,
  };
}

/**
 * The body of every job insert: rows from the JSON array parameter `param`
 * (see InsertRow), each `available` when due now, else `scheduled`; a job due
 * now wakes its queue (delivered at commit, so a rolled-back insert wakes
 * nobody). `from` adds sources to the rows' FROM, e.g. a CTE gating them.
 */
export function insertJobsSql(names: ReturnType<typeof schemaNames>, param: string, from = ''): string {
  return `
    input AS (
      SELECT r.*, COALESCE(r.scheduled_at, now() + COALESCE(r.schedule_in, 0) * interval '1 second') AS due_at
      FROM ${from}jsonb_to_recordset(${param}::jsonb) AS r(
        queue text, worker text, args jsonb, meta jsonb, tags text[],
        max_attempts integer, priority integer, scheduled_at timestamptz, schedule_in float8)
    )
    INSERT INTO ${names.jobs} AS j (state, queue, worker, args, meta, tags, max_attempts, priority, scheduled_at)
    SELECT CASE WHEN due_at <= now() THEN 'available' ELSE 'scheduled' END::${names.stateType},
           queue, worker, args, meta, tags, max_attempts, priority, due_at
    FROM input`;
}

/**
 * The SET list of every claim: the job `executing` on attempt + 1 by node $3,
 * attempted at `attemptedAt`; a row with every attempt used (written so by
 * another tool) cannot run without breaking attempt_range, so it is discarded
 * with the reason instead.
 */
export function claimAssignments(stateType: string, attemptedAt: string): string {
  return `state = CASE WHEN j.attempt < j.max_attempts THEN 'executing' ELSE 'discarded' END::${stateType},
        attempt = CASE WHEN j.attempt < j.max_attempts THEN j.attempt + 1 ELSE j.attempt END,
        attempted_at = ${attemptedAt},
        attempted_by = ARRAY[$3::text],
        discarded_at = CASE WHEN j.attempt < j.max_attempts THEN j.discarded_at ELSE now() END,
        errors = CASE WHEN j.attempt < j.max_attempts THEN j.errors ELSE array_append(j.errors, jsonb_build_object(
          'attempt', j.attempt,
          'at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
          'error', 'MaxAttemptsError: the job was available with all ' || j.max_attempts ||
                   ' attempts used; discarded (retry it with Oban.retryJob to give it one more)')) END`;
}
