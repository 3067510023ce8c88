import { insertJobsSql, schemaNames, statementNamer } from './sql';

/**
 * The SQL of inserting, running and managing jobs (that of running several
 * nodes is in cluster-statements.ts; shared pieces in sql.ts; nowhere else in
 * nest-oban is SQL written). Each is built once per schema prefix and carries a name, so pg prepares it
 * once per connection. Parameters come as one JSON document where a statement
 * takes many rows (insert, ack): a single round trip whatever the batch size.
 */
export type Statements = ReturnType<typeof buildStatements>;

export function buildStatements(prefix: string) {
  const names = schemaNames(prefix);
  const { jobs, stateType, insertChannel, signalChannel } = names;
  const named = statementNamer(prefix);

  return {
    prefix,
    jobs,
    insertChannel,
    signalChannel,

    /**
     * $1: JSON array of {queue, worker, args, meta, tags, max_attempts, priority,
     * scheduled_at?, schedule_in?}. A job due now is `available` and wakes its
     * queue (delivered at commit, so a rolled-back insert wakes nobody).
     * Returns only what the database decides (times as epoch ms, cheaper to
     * read than timestamps); the rest is what was sent.
     */
    insertJobs: named(
      'insert_jobs',
      `WITH ${insertJobsSql(names, '$1')}
       RETURNING j.id, j.state,
         extract(epoch FROM j.inserted_at) * 1000 AS inserted_ms,
         extract(epoch FROM j.scheduled_at) * 1000 AS scheduled_ms,
         CASE WHEN j.state = 'available' THEN pg_notify('${insertChannel}', j.queue) END AS notified`,
    ),

    /**
     * Claims up to $2 jobs of queue $1 for node $3. One statement: the CTE picks
     * and locks rows (skipping rows other nodes hold), the UPDATE marks them.
     * A row with every attempt used (written so by another tool) cannot run
     * without breaking attempt_range: it is discarded with the reason instead,
     * and returned `discarded` so the node does not run it.
     */
    fetchJobs: named(
      'fetch_jobs',
      `
    WITH picked AS (
      SELECT id FROM ${jobs}
      WHERE state = 'available' AND queue = $1
      ORDER BY priority, scheduled_at, id
      LIMIT $2
      FOR UPDATE SKIP LOCKED
    )
    UPDATE ${jobs} AS j
    SET state = CASE WHEN j.attempt < j.max_attempts THEN 'executing' ELSE 'discarded' END::${stateType},
        attempt = CASE WHEN j.attempt < j.max_attempts THEN j.attempt + 1 ELSE j.attempt END,
        attempted_at = now(),
        attempted_by = ARRAY[$3::text],
        discarded_at = CASE WHEN j.attempt < j.max_attempts THEN j.discarded_at ELSE now() END,
        errors = CASE WHEN j.attempt < j.max_attempts THEN j.errors ELSE array_append(j.errors, jsonb_build_object(
          'attempt', j.attempt,
          'at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
          'error', 'MaxAttemptsError: the job was available with all ' || j.max_attempts ||
                   ' attempts used; discarded (retry it with Oban.retryJob to give it one more)')) END
    FROM picked
    WHERE j.id = picked.id
    RETURNING j.*
    `,
    ),

    /**
     * Records the outcome of many attempts at once. $1: JSON array of
     * {id, attempt, state, attempt_change, delay_ms?, error?, meta?, result?}.
     * Only touches a row still `executing` the same attempt, so a job cancelled
     * or rescued meanwhile is left as it is.
     */
    ackJobs: named(
      'ack_jobs',
      `
    UPDATE ${jobs} AS j SET
      state = a.state::${stateType},
      attempt = j.attempt + a.attempt_change,
      scheduled_at = CASE WHEN a.delay_ms IS NULL THEN j.scheduled_at
                          ELSE now() + a.delay_ms * interval '1 millisecond' END,
      completed_at = CASE WHEN a.state = 'completed' THEN now() ELSE j.completed_at END,
      discarded_at = CASE WHEN a.state = 'discarded' THEN now() ELSE j.discarded_at END,
      cancelled_at = CASE WHEN a.state = 'cancelled' THEN now() ELSE j.cancelled_at END,
      errors = CASE WHEN a.error IS NULL THEN j.errors ELSE array_append(j.errors, a.error) END,
      meta = CASE WHEN a.meta IS NULL THEN j.meta ELSE j.meta || a.meta END,
      result = a.result
    FROM jsonb_to_recordset($1::jsonb) AS a(
      id bigint, attempt integer, state text, attempt_change integer,
      delay_ms float8, error jsonb, meta jsonb, result jsonb)
    WHERE j.id = a.id AND j.state = 'executing' AND j.attempt = a.attempt
    `,
    ),

    /**
     * Makes due `scheduled`/`retryable` jobs `available` (at most $1) and wakes
     * their queues on every node. Returns the queues that were staged plus those
     * of $2 (this node's queues) that have available jobs: the poll that covers
     * for lost notifications.
     */
    stageJobs: named(
      'stage_jobs',
      `
    WITH due AS (
      SELECT id FROM ${jobs}
      WHERE state IN ('scheduled', 'retryable') AND scheduled_at <= now()
      ORDER BY scheduled_at, id
      LIMIT $1
      FOR UPDATE SKIP LOCKED
    ), staged AS (
      UPDATE ${jobs} AS j SET state = 'available'
      FROM due WHERE j.id = due.id
      RETURNING j.queue, pg_notify('${insertChannel}', j.queue) AS notified
    )
    SELECT DISTINCT queue FROM staged
    UNION
    SELECT q FROM unnest($2::text[]) AS q
    WHERE EXISTS (SELECT 1 FROM ${jobs} WHERE state = 'available' AND queue = q)
    `,
    ),

    getJob: named('get_job', `SELECT * FROM ${jobs} WHERE id = $1`),

    /** $1 states (or null), $2 queue, $3 worker, $4 limit, $5 offset. */
    listJobs: named(
      'list_jobs',
      `
    SELECT * FROM ${jobs}
    WHERE ($1::text[] IS NULL OR state::text = ANY($1::text[]))
      AND ($2::text IS NULL OR queue = $2)
      AND ($3::text IS NULL OR worker = $3)
    ORDER BY id
    LIMIT $4 OFFSET $5
    `,
    ),

    /**
     * Cancels a job that has not finished. A job executing somewhere gets a
     * `pkill` signal so the node running it stops it.
     */
    cancelJob: named(
      'cancel_job',
      `
    WITH old AS (SELECT id, state FROM ${jobs} WHERE id = $1 FOR UPDATE)
    UPDATE ${jobs} AS j SET state = 'cancelled', cancelled_at = now()
    FROM old
    WHERE j.id = old.id AND old.state NOT IN ('completed', 'discarded', 'cancelled')
    RETURNING j.*, CASE WHEN old.state = 'executing' THEN pg_notify('${signalChannel}',
      json_build_object('action', 'pkill', 'job_id', j.id)::text) END AS notified
    `,
    ),

    /** Makes a job not currently available or executing run again now, with an attempt to spare. */
    retryJob: named(
      'retry_job',
      `
    UPDATE ${jobs} SET
      state = 'available', scheduled_at = now(),
      max_attempts = GREATEST(max_attempts, attempt + 1),
      completed_at = NULL, discarded_at = NULL, cancelled_at = NULL
    WHERE id = $1 AND state NOT IN ('available', 'executing')
    RETURNING *, pg_notify('${insertChannel}', queue) AS notified
    `,
    ),

    deleteJob: named(
      'delete_job',
      `
    WITH old AS (SELECT id, state FROM ${jobs} WHERE id = $1 FOR UPDATE),
    deleted AS (DELETE FROM ${jobs} AS j USING old WHERE j.id = old.id AND old.state <> 'executing' RETURNING j.id)
    SELECT old.state::text AS state, (SELECT count(*) FROM deleted) AS deleted FROM old
    `,
    ),

    /**
     * What node $1 should know about its jobs, in one row: `cancelled`, the
     * jobs of $2 (those running there) cancelled meanwhile; `orphans`, rows
     * `executing` under its name that it neither runs nor is recording ($3),
     * of queues $4 (none with a claim under way), claimed at $5 (the node's
     * start, as `now` gave it) or later but more than $6 ms ago: claims whose
     * answer never reached it. `now`: the database's time, exactly, as text.
     */
    reconcileNode: named(
      'reconcile_node',
      `
    SELECT now()::text AS now,
      (SELECT COALESCE(json_agg(id), '[]') FROM ${jobs}
       WHERE id = ANY($2::bigint[]) AND state = 'cancelled') AS cancelled,
      (SELECT COALESCE(json_agg(json_build_object('id', id, 'queue', queue, 'attempt', attempt)), '[]') FROM ${jobs}
       WHERE state = 'executing' AND queue = ANY($4::text[]) AND attempted_by[1] = $1
         AND NOT (id = ANY($3::bigint[]))
         AND attempted_at >= $5::timestamptz AND attempted_at < now() - $6 * interval '1 millisecond') AS orphans
    `,
    ),
  };
}
