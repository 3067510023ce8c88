import { insertJobsSql, schemaNames, statementNamer } from '../db/sql';

/**
 * The SQL of composing jobs: relay (awaiting a result), workflows and batches.
 * What happens when a job finishes is not here: it is decided by the triggers
 * of schema version 5 (migrations/v5.ts), in the transaction that finishes it.
 */
export type ComposeStatements = ReturnType<typeof buildComposeStatements>;

export function buildComposeStatements(prefix: string) {
  const names = schemaNames(prefix);
  const { jobs, stateType } = names;
  const schema = jobs.slice(0, jobs.lastIndexOf('.'));
  const deps = `${schema}.oban_workflow_deps`;
  const holds = `${schema}.oban_workflow_holds`;
  const batches = `${schema}.oban_batches`;
  const named = statementNamer(prefix);
  const final = `('completed', 'discarded', 'cancelled')`;
  const at = `to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

  /** A workflow's (or batch's) jobs by the partial index on its meta key. */
  const inWorkflow = (param: string, alias = 'j') =>
    `${alias}.meta ? 'workflow_id' AND ${alias}.meta->>'workflow_id' = ${param}`;

  return {
    /**
     * Inserts steps of a workflow and their edges in one statement.
     * $1: JSON array of insert rows plus `step` (its name, also in
     * meta.workflow_step) and `state` ('suspended', 'cancelled' with `error`,
     * or null: available/scheduled by its time). $2: JSON array of edges
     * {step, dep, dep_id, policy, appended, done}: a dep among the new steps
     * is found by name, an existing one comes with its id. $3: the running
     * step appending these (or null): whoever waits for all it appends
     * (an `appended` edge on it) now waits for the new jobs too.
     */
    insertSteps: named(
      'insert_workflow_steps',
      `
    WITH input AS (
      SELECT r.*, COALESCE(r.scheduled_at, now() + COALESCE(r.schedule_in, 0) * interval '1 second') AS due_at
      FROM jsonb_to_recordset($1::jsonb) AS r(
        queue text, worker text, args jsonb, meta jsonb, tags text[], max_attempts integer, priority integer,
        scheduled_at timestamptz, schedule_in float8, step text, state text, error text)
    ), ins AS (
      INSERT INTO ${jobs} AS j (state, queue, worker, args, meta, tags, max_attempts, priority, scheduled_at,
                                cancelled_at, errors)
      SELECT COALESCE(state, CASE WHEN due_at <= now() THEN 'available' ELSE 'scheduled' END)::${stateType},
             queue, worker, args, meta, tags, max_attempts, priority, due_at,
             CASE WHEN state = 'cancelled' THEN now() END,
             CASE WHEN error IS NULL THEN '{}'::jsonb[]
                  ELSE ARRAY[jsonb_build_object('attempt', 0, 'at', ${at}, 'error', error)] END
      FROM input
      RETURNING j.id, j.state, j.queue, j.meta->>'workflow_step' AS step,
        extract(epoch FROM j.inserted_at) * 1000 AS inserted_ms,
        extract(epoch FROM j.scheduled_at) * 1000 AS scheduled_ms
    ), edge_in AS (
      SELECT * FROM jsonb_to_recordset($2::jsonb) AS e(
        step text, dep text, dep_id bigint, policy text, appended boolean, done boolean)
    ), cascade AS (
      SELECT d.job_id, d.policy FROM ${deps} AS d
      WHERE $3::bigint IS NOT NULL AND d.dep_id = $3::bigint AND d.appended AND NOT d.done
    ), edges AS (
      INSERT INTO ${deps} (job_id, dep_id, name, policy, appended, done)
      SELECT t.id, COALESCE(n.id, e.dep_id), e.dep, e.policy, e.appended, e.done
      FROM edge_in AS e JOIN ins AS t ON t.step = e.step LEFT JOIN ins AS n ON n.step = e.dep
      UNION ALL
      SELECT c.job_id, t.id, t.step, c.policy, true, false FROM cascade AS c CROSS JOIN ins AS t
      RETURNING job_id, done
    ), counts AS (
      SELECT job_id, (count(*) FILTER (WHERE NOT done))::int AS n FROM edges GROUP BY job_id
    ), new_holds AS (
      INSERT INTO ${holds} (job_id, pending)
      SELECT c.job_id, c.n FROM counts AS c WHERE c.job_id IN (SELECT id FROM ins)
      RETURNING job_id
    ), grown AS (
      UPDATE ${holds} AS h SET pending = h.pending + c.n
      FROM counts AS c WHERE h.job_id = c.job_id AND c.job_id NOT IN (SELECT id FROM ins)
      RETURNING h.job_id
    )
    SELECT ins.id, ins.state, ins.step, ins.inserted_ms, ins.scheduled_ms,
      CASE WHEN ins.state = 'available' THEN pg_notify('${names.insertChannel}', ins.queue) END AS notified,
      (SELECT count(*) FROM new_holds) + (SELECT count(*) FROM grown) AS holds
    FROM ins
    `,
    ),

    /**
     * Appending: the running step $2 and the steps $3 of workflow $1 that new
     * steps name as deps, locked FOR SHARE so a concurrent finish either
     * happened (and is read here) or waits for this transaction (and its
     * trigger then sees the new edges).
     */
    lockForAppend: named(
      'lock_workflow_for_append',
      `
    SELECT j.id, j.state::text AS state, j.result, j.meta->>'workflow_step' AS step, j.id = $2::bigint AS appender
    FROM ${jobs} AS j
    WHERE (${inWorkflow('$1')} AND j.meta->>'workflow_step' = ANY($3::text[])) OR j.id = $2::bigint
    FOR SHARE
    `,
    ),

    /** Jobs of workflow $1 by step and state. */
    workflowStatus: named(
      'workflow_status',
      `SELECT j.meta->>'workflow_step' AS step, j.state::text AS state, count(*)::int AS count
       FROM ${jobs} AS j WHERE ${inWorkflow('$1')} GROUP BY 1, 2 ORDER BY 1, 2`,
    ),

    /** The jobs of workflow $1, in id order (at most $2). */
    workflowJobs: named('workflow_jobs', `SELECT * FROM ${jobs} AS j WHERE ${inWorkflow('$1')} ORDER BY j.id LIMIT $2`),

    /**
     * Cancels every unfinished job of workflow $1; one executing somewhere
     * gets a `pkill` signal. Returns the ids cancelled and whether each was executing.
     */
    cancelWorkflow: named(
      'cancel_workflow',
      `
    WITH old AS (
      SELECT j.id, j.state FROM ${jobs} AS j
      WHERE ${inWorkflow('$1')} AND j.state NOT IN ${final}
      ORDER BY j.id
      FOR UPDATE
    )
    UPDATE ${jobs} AS j SET state = 'cancelled', cancelled_at = now(),
      errors = array_append(j.errors, jsonb_build_object('attempt', j.attempt, 'at', ${at},
        'error', 'WorkflowCancelledError: workflow ' || $1 || ' was cancelled'))
    FROM old WHERE j.id = old.id
    RETURNING j.id, old.state = 'executing' AS executing,
      CASE WHEN old.state = 'executing' THEN pg_notify('${names.signalChannel}',
        json_build_object('action', 'pkill', 'job_id', j.id)::text) END AS notified
    `,
    ),

    /**
     * Retries the discarded and cancelled jobs of workflow $1: one still
     * waiting for a dependency goes back to \`suspended\`, the others run now,
     * each with an attempt to spare.
     */
    retryWorkflow: named(
      'retry_workflow',
      `
    WITH failed AS (
      SELECT j.id FROM ${jobs} AS j
      WHERE ${inWorkflow('$1')} AND j.state IN ('discarded', 'cancelled')
      ORDER BY j.id
      FOR UPDATE
    )
    UPDATE ${jobs} AS j SET
      state = CASE WHEN EXISTS (SELECT 1 FROM ${deps} AS d WHERE d.job_id = j.id AND NOT d.done)
                   THEN 'suspended' ELSE 'available' END::${stateType},
      scheduled_at = now(),
      max_attempts = GREATEST(j.max_attempts, j.attempt + 1),
      completed_at = NULL, discarded_at = NULL, cancelled_at = NULL,
      meta = j.meta - 'workflow_held'
    FROM failed WHERE j.id = failed.id
    RETURNING j.id, j.state::text AS state,
      CASE WHEN j.state = 'available' THEN pg_notify('${names.insertChannel}', j.queue) END AS notified
    `,
    ),

    /**
     * Creates batch $1 with callbacks $2 (JSON: kind -> insert row) and its
     * members $3 (insert rows whose meta names the batch), $4 of them, in one
     * statement. Returns the members as insertJobs does.
     */
    createBatch: named(
      'create_batch',
      `WITH batch AS (
         INSERT INTO ${batches} (id, total, pending, callbacks) VALUES ($1, $4, $4, $2::jsonb) RETURNING id
       ), ${insertJobsSql(names, '$3', 'batch, ')}
       RETURNING j.id, j.state,
         extract(epoch FROM j.inserted_at) * 1000 AS inserted_ms,
         extract(epoch FROM j.scheduled_at) * 1000 AS scheduled_ms,
         CASE WHEN j.state = 'available' THEN pg_notify('${names.insertChannel}', j.queue) END AS notified`,
    ),

    /** Fires batch $1's callbacks that are due (an empty batch's, at once), under its row lock. */
    fireBatch: named(
      'fire_batch',
      `SELECT ${schema}.oban_batch_fire(b) FROM ${batches} AS b WHERE b.id = $1 FOR UPDATE`,
    ),

    /**
     * Adds members $2 ($3 of them) to batch $1 while it has unfinished
     * members; nothing when it has none (it finished, its callbacks fired) or is unknown.
     */
    growBatch: named(
      'grow_batch',
      `WITH batch AS (
         UPDATE ${batches} SET total = total + $3, pending = pending + $3 WHERE id = $1 AND pending > 0 RETURNING id
       ), ${insertJobsSql(names, '$2', 'batch, ')}
       RETURNING j.id, j.state,
         extract(epoch FROM j.inserted_at) * 1000 AS inserted_ms,
         extract(epoch FROM j.scheduled_at) * 1000 AS scheduled_ms,
         CASE WHEN j.state = 'available' THEN pg_notify('${names.insertChannel}', j.queue) END AS notified`,
    ),

    /** Batch $1's row and its members counted by state. */
    batchStatus: named(
      'batch_status',
      `SELECT b.*, (SELECT COALESCE(jsonb_object_agg(s.state, s.n), '{}') FROM (
         SELECT j.state::text AS state, count(*)::int AS n FROM ${jobs} AS j
         WHERE j.meta ? 'batch_id' AND j.meta->>'batch_id' = $1 GROUP BY 1) AS s) AS states
       FROM ${batches} AS b WHERE b.id = $1`,
    ),

    /** NOTIFY channel of finished jobs marked `relay`; payload: {"id", "state"}. */
    relayChannel: `${prefix}.oban_relay`,

    /**
     * Marks job $1 so its end NOTIFYs the relay channel (a finished job is left
     * alone: it is read instead). A claim that met the row locked skipped it:
     * an available job wakes its queue again.
     */
    relayMark: named(
      'relay_mark',
      `UPDATE ${jobs} SET meta = meta || '{"relay": true}'
       WHERE id = $1 AND NOT (meta ? 'relay') AND state NOT IN ${final}
       RETURNING CASE WHEN state = 'available' THEN pg_notify('${names.insertChannel}', queue) END AS notified`,
    ),

    /** Of jobs $1, those finished or gone (state null), with what a waiter needs. */
    relayRead: named(
      'relay_read',
      `SELECT w.id, j.state::text AS state, j.worker, j.result, j.errors[array_length(j.errors, 1)] AS last_error
       FROM unnest($1::bigint[]) AS w(id) LEFT JOIN ${jobs} AS j ON j.id = w.id
       WHERE j.id IS NULL OR j.state IN ${final}`,
    ),
  };
}
