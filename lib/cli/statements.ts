import { schemaNames, statementNamer } from '../db/sql';

/** The SQL of the read-only operator commands (`nest-oban queues`, `nest-oban jobs`). */
export function buildCliStatements(prefix: string) {
  const { jobs, nodes, queues } = schemaNames(prefix);
  const named = statementNamer(prefix);
  return {
    /**
     * Every queue that has jobs, a live node running it, or a stored state:
     * its jobs by state, the live nodes running it, and the stored pause and
     * limit (null: as each node is configured).
     */
    queueSummary: named(
      'cli_queue_summary',
      `
    WITH counts AS (
      SELECT queue,
             count(*) FILTER (WHERE state = 'available')::int AS available,
             count(*) FILTER (WHERE state = 'scheduled')::int AS scheduled,
             count(*) FILTER (WHERE state = 'executing')::int AS executing,
             count(*) FILTER (WHERE state = 'retryable')::int AS retryable,
             count(*) FILTER (WHERE state = 'completed')::int AS completed,
             count(*) FILTER (WHERE state = 'discarded')::int AS discarded,
             count(*) FILTER (WHERE state = 'cancelled')::int AS cancelled
      FROM ${jobs} GROUP BY queue
    ),
    running AS (
      SELECT q AS queue, count(*)::int AS nodes
      FROM ${nodes}, unnest(queues) AS q WHERE expires_at > now() GROUP BY q
    ),
    names AS (SELECT queue FROM counts UNION SELECT queue FROM running UNION SELECT name FROM ${queues})
    SELECT n.queue, COALESCE(r.nodes, 0) AS nodes, s.paused, s."limit",
           COALESCE(c.available, 0) AS available, COALESCE(c.scheduled, 0) AS scheduled,
           COALESCE(c.executing, 0) AS executing, COALESCE(c.retryable, 0) AS retryable,
           COALESCE(c.completed, 0) AS completed, COALESCE(c.discarded, 0) AS discarded,
           COALESCE(c.cancelled, 0) AS cancelled
    FROM names n
    LEFT JOIN counts c ON c.queue = n.queue
    LEFT JOIN running r ON r.queue = n.queue
    LEFT JOIN ${queues} s ON s.name = n.queue
    ORDER BY n.queue
    `,
    ),

    /** Jobs in state $1 (and queue $2 unless null), newest first, at most $3; with the last error's message. */
    listJobs: named(
      'cli_list_jobs',
      `
    SELECT id, state, queue, worker, attempt, max_attempts, scheduled_at, attempted_at,
           errors[array_length(errors, 1)] ->> 'error' AS last_error
    FROM ${jobs}
    WHERE state = $1::text::${schemaNames(prefix).stateType} AND ($2::text IS NULL OR queue = $2)
    ORDER BY id DESC
    LIMIT $3
    `,
    ),
  };
}
