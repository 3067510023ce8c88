import { claimAssignments, insertJobsSql, schemaNames, statementNamer } from './sql';

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
     * Inserts rows of which some are unique jobs (see uniqueInsertSql); the
     * plain insertJobs above stays as it is for batches without one.
     */
    insertUniqueJobs: named('insert_unique_jobs', uniqueInsertSql(names, 'DO NOTHING')),

    /**
     * The same where some row has `replace`: a conflicting insert overwrites
     * the listed columns of the stored job, per the stored job's state
     * (unique_replace: {state: [columns]}). A changed scheduled_at also moves a
     * scheduled or available job to the state its new time gives. The stored
     * job stays locked until the insert's transaction ends.
     */
    insertUniqueJobsReplacing: named(
      'insert_unique_jobs_replacing',
      uniqueInsertSql(
        names,
        `DO UPDATE SET (args, meta, tags, priority, max_attempts, queue, scheduled_at, state) = (
           SELECT
             CASE WHEN f ? 'args' THEN EXCLUDED.args ELSE j.args END,
             CASE WHEN f ? 'meta' THEN EXCLUDED.meta ELSE j.meta END,
             CASE WHEN f ? 'tags' THEN EXCLUDED.tags ELSE j.tags END,
             CASE WHEN f ? 'priority' THEN EXCLUDED.priority ELSE j.priority END,
             CASE WHEN f ? 'max_attempts' THEN GREATEST(EXCLUDED.max_attempts, j.attempt) ELSE j.max_attempts END,
             CASE WHEN f ? 'queue' THEN EXCLUDED.queue ELSE j.queue END,
             CASE WHEN f ? 'scheduled_at' THEN EXCLUDED.scheduled_at ELSE j.scheduled_at END,
             CASE WHEN f ? 'scheduled_at' AND j.state IN ('scheduled', 'available') THEN EXCLUDED.state ELSE j.state END
           FROM (SELECT k.unique_replace -> j.state::text AS f FROM keyed AS k
                 WHERE k.key = EXCLUDED.unique_key AND k.nth = 1) AS r)
         WHERE EXISTS (SELECT 1 FROM keyed AS k
                       WHERE k.key = EXCLUDED.unique_key AND k.nth = 1 AND k.unique_replace ? j.state::text)`,
      ),
    ),

    /** The job other than $1 that holds $1's unique key now (what a refused retry of $1 met). */
    uniqueHolderOf: named(
      'unique_holder_of',
      `SELECT h.* FROM ${jobs} AS j
       JOIN ${jobs} AS h ON h.unique_key = j.unique_key AND h.state = ANY(h.unique_states) AND h.id <> j.id
       WHERE j.id = $1`,
    ),

    /** The jobs holding unique keys $1 (hex) now: what a conflict committed by another transaction left. */
    uniqueHolders: named(
      'unique_holders',
      `SELECT encode(unique_key, 'hex') AS key_hex, * FROM ${jobs}
       WHERE unique_key = ANY(ARRAY(SELECT decode(h, 'hex') FROM unnest($1::text[]) AS h))
         AND state = ANY(unique_states)`,
    ),

    /**
     * Claims up to $2 jobs of queue $1 for node $3. One statement: the CTE picks
     * and locks rows (skipping rows other nodes hold), the UPDATE marks them.
     * A row with every attempt used (written so by another tool) cannot run
     * without breaking attempt_range: it is discarded with the reason instead,
     * and returned `discarded` so the node does not run it. Rows are returned
     * in queue order, the order the node starts them in (updated by id, they
     * would come back in id order).
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
    ), claimed AS (
      UPDATE ${jobs} AS j
      SET ${claimAssignments(stateType, 'now()')}
      WHERE j.id = ANY(ARRAY(SELECT id FROM picked))
      RETURNING j.*
    )
    SELECT * FROM claimed ORDER BY priority, scheduled_at, id
    `,
    ),

    /**
     * Records the outcome of many attempts at once. $1: JSON array of
     * {id, attempt, state, attempt_change, delay_ms?, started_ms?, error?, meta?, result?}.
     * Only touches a row still `executing` the same attempt, so a job cancelled
     * or rescued meanwhile is left as it is. `started_ms`: when the attempt
     * started on the node, later than the claim when the job waited claimed ahead.
     * $2: queues to wake on every node once this commits (queues with a global
     * limit: a finished job frees a slot another node may be waiting for).
     */
    ackJobs: named(
      'ack_jobs',
      `
    WITH acked AS (
    UPDATE ${jobs} AS j SET
      state = a.state::${stateType},
      attempt = j.attempt + a.attempt_change,
      scheduled_at = CASE WHEN a.delay_ms IS NULL THEN j.scheduled_at
                          ELSE now() + a.delay_ms * interval '1 millisecond' END,
      attempted_at = CASE WHEN a.started_ms IS NULL THEN j.attempted_at
                          ELSE GREATEST(j.attempted_at, to_timestamp(a.started_ms / 1000)) END,
      completed_at = CASE WHEN a.state = 'completed' THEN now() ELSE j.completed_at END,
      discarded_at = CASE WHEN a.state = 'discarded' THEN now() ELSE j.discarded_at END,
      cancelled_at = CASE WHEN a.state = 'cancelled' THEN now() ELSE j.cancelled_at END,
      errors = CASE WHEN a.error IS NULL THEN j.errors ELSE array_append(j.errors, a.error) END,
      meta = CASE WHEN a.meta IS NULL THEN j.meta ELSE j.meta || a.meta END,
      result = a.result
    FROM jsonb_to_recordset($1::jsonb) AS a(
      id bigint, attempt integer, state text, attempt_change integer,
      delay_ms float8, started_ms float8, error jsonb, meta jsonb, result jsonb)
    WHERE j.id = a.id AND j.state = 'executing' AND j.attempt = a.attempt
    )
    SELECT count(pg_notify('${insertChannel}', q)) AS woken FROM unnest($2::text[]) AS q
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

/**
 * A batch insert where rows may carry a unique key. $1: JSON array of insert
 * rows (see InsertRow) each with its `ord` (index in the batch). A row's key
 * is sha256 of its unique_base plus, with a finite period, `:` and its bucket,
 * floor(epoch seconds / period) of now() or of its scheduled time (the same
 * as uniqueKey in validation/unique-options.ts). Only the first row of each
 * key in the batch is inserted; `conflict` is the ON CONFLICT action against
 * the unique index (migrations/v3.ts; its predicate, repeated here, is what
 * lets Postgres infer it).
 *
 * Returns two kinds of rows: each stored or replaced job (`written`, with
 * `fresh` false when an existing job was replaced, `key_hex` and its
 * columns), and one row per input row (`ord`, `nth`: its rank among the
 * batch's rows with its key, `key_hex`, and the columns of the job holding
 * its key as the statement's snapshot saw it, if any). A holder committed by
 * another transaction while this one waited on it is not in that snapshot:
 * the caller reads it with uniqueHolders.
 */
function uniqueInsertSql(names: ReturnType<typeof schemaNames>, conflict: string): string {
  const { jobs, stateType, insertChannel } = names;
  return `
    WITH input AS (
      SELECT r.*, COALESCE(r.scheduled_at, now() + COALESCE(r.schedule_in, 0) * interval '1 second') AS due_at
      FROM jsonb_to_recordset($1::jsonb) AS r(
        ord integer, queue text, worker text, args jsonb, meta jsonb, tags text[],
        max_attempts integer, priority integer, scheduled_at timestamptz, schedule_in float8,
        unique_base text, unique_period numeric, unique_by_scheduled boolean, unique_states text[], unique_replace jsonb)
    ), hashed AS (
      SELECT input.*,
        CASE WHEN due_at <= now() THEN 'available' ELSE 'scheduled' END::${stateType} AS new_state,
        CASE WHEN unique_base IS NOT NULL THEN sha256(convert_to(unique_base || COALESCE(':' || floor(
          extract(epoch FROM CASE WHEN unique_by_scheduled THEN due_at ELSE now() END)::numeric / unique_period)::text,
          ''), 'UTF8')) END AS key
      FROM input
    ), keyed AS (
      SELECT hashed.*, row_number() OVER (PARTITION BY key ORDER BY ord) AS nth FROM hashed
    ), written AS (
      INSERT INTO ${jobs} AS j
        (state, queue, worker, args, meta, tags, max_attempts, priority, scheduled_at, unique_key, unique_states)
      SELECT new_state, queue, worker, args, meta, tags, max_attempts, priority, due_at,
             key, unique_states::${stateType}[]
      FROM keyed WHERE key IS NULL OR nth = 1
      ORDER BY ord
      ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state = ANY(unique_states) ${conflict}
      RETURNING j AS job, (j.xmax = 0) AS fresh,
        CASE WHEN j.state = 'available' THEN pg_notify('${insertChannel}', j.queue) END AS notified
    )
    SELECT NULL::integer AS ord, NULL::bigint AS nth, w.fresh, encode((w.job).unique_key, 'hex') AS key_hex,
           (w.job).*, w.notified IS NULL AS _notified
    FROM written AS w
    UNION ALL
    SELECT k.ord, k.nth, NULL, encode(k.key, 'hex'), e.*, NULL
    FROM keyed AS k
    LEFT JOIN ${jobs} AS e ON e.unique_key = k.key AND e.state = ANY(e.unique_states)`;
}
