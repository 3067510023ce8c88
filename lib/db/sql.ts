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
