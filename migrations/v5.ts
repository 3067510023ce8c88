/**
 * Version 5: composing jobs (workflows, relay, batches), decided in the
 * database so every path that finishes a job (ack, rescue, a cancel or delete
 * by hand, another tool's UPDATE) settles what waits on it in the same
 * transaction.
 *
 * - State `suspended`: a workflow step whose dependencies have not all
 *   completed. (ALTER TYPE ... ADD VALUE in a transaction needs PostgreSQL 12;
 *   the value is not used in this version's DDL, only in function bodies,
 *   which are planned after the commit.)
 * - `oban_workflow_deps`: one row per edge, dependent `job_id` on `dep_id`;
 *   `done` once the dependency counts as met. `appended`: the dependent also
 *   waits for every job the dependency appends while it runs (fan-out).
 * - `oban_workflow_holds`: per held job, how many of its edges are not done.
 *   A finishing dependency does an indexed update of its own edges (row
 *   trigger); at the end of the statement each dependent's counter goes down
 *   once by the edges met (statement trigger): constant work per job, whatever
 *   the size of the workflow or of the ack batch.
 * - `oban_batches`: a batch's counters and callbacks; a member finishing
 *   adds a row to `oban_batch_deltas`, folded into its batch's row once at the
 *   end of the statement, whose row lock makes each callback fire once.
 * - The statement triggers read one transaction-local setting set by the row
 *   triggers and return at once when it is unset: a statement touching no
 *   workflow or batch job pays a function call.
 * - Triggers with WHEN clauses on `meta` keys (`workflow_id`, `batch_id`,
 *   `relay`), so a job outside any of these pays only the key test.
 * - Relay: a finished job marked `relay` NOTIFYs `<prefix>.oban_relay` with
 *   its id and state only; the waiter reads the row, so results have no size cap.
 */
export function upV5(schema: string): string[] {
  const prefix = schema.slice(1, -1);
  const jobs = `${schema}.oban_jobs`;
  const state = `${schema}.oban_job_state`;
  const deps = `${schema}.oban_workflow_deps`;
  const holds = `${schema}.oban_workflow_holds`;
  const batches = `${schema}.oban_batches`;
  const deltas = `${schema}.oban_batch_deltas`;
  const insertChannel = `${prefix}.oban_insert`;
  const relayChannel = `${prefix}.oban_relay`;
  const now = `to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
  return [
    `ALTER TYPE ${state} ADD VALUE IF NOT EXISTS 'suspended'`,
    `CREATE TABLE IF NOT EXISTS ${deps} (
       job_id bigint NOT NULL,
       dep_id bigint NOT NULL,
       name text NOT NULL,
       policy text NOT NULL CHECK (policy IN ('cancel', 'continue', 'hold')),
       appended boolean NOT NULL DEFAULT false,
       done boolean NOT NULL DEFAULT false,
       counted boolean NOT NULL DEFAULT true,
       PRIMARY KEY (job_id, dep_id)
     )`,
    `CREATE INDEX IF NOT EXISTS oban_workflow_deps_open_index ON ${deps} (dep_id) WHERE NOT done`,
    // Edges met by the current statement, not yet taken off their dependents' counters.
    `CREATE INDEX IF NOT EXISTS oban_workflow_deps_uncounted_index ON ${deps} (job_id) WHERE done AND NOT counted`,
    `CREATE TABLE IF NOT EXISTS ${holds} (
       job_id bigint PRIMARY KEY,
       pending integer NOT NULL CHECK (pending >= 0)
     )`,
    // Members' moves counted by the current statement, folded into oban_batches at its end (then deleted).
    `CREATE TABLE IF NOT EXISTS ${deltas} (
       batch_id text NOT NULL,
       pending integer NOT NULL,
       completed integer NOT NULL,
       failed integer NOT NULL
     )`,
    `CREATE TABLE IF NOT EXISTS ${batches} (
       id text PRIMARY KEY,
       total integer NOT NULL DEFAULT 0,
       pending integer NOT NULL DEFAULT 0,
       completed integer NOT NULL DEFAULT 0,
       failed integer NOT NULL DEFAULT 0,
       callbacks jsonb NOT NULL DEFAULT '{}',
       fired jsonb NOT NULL DEFAULT '{}',
       inserted_at timestamptz NOT NULL DEFAULT now()
     )`,
    ...jobIndexes(schema, false),

    // Releases the dependents of a finished (or deleted) workflow job, or cancels them, by their policy.
    `CREATE OR REPLACE FUNCTION ${schema}.oban_workflow_settle() RETURNS trigger LANGUAGE plpgsql AS $fn$
     DECLARE
       dep bigint;
       outcome text;
     BEGIN
       IF TG_OP = 'DELETE' THEN
         dep := OLD.id;
         DELETE FROM ${holds} WHERE job_id = OLD.id;
         DELETE FROM ${deps} WHERE job_id = OLD.id;
         IF OLD.state = 'completed' THEN RETURN NULL; END IF;
         outcome := 'deleted';
       ELSE
         dep := NEW.id;
         outcome := NEW.state::text;
       END IF;

       -- Met: by completion, or by any end under 'continue'. The counters are taken down once per
       -- statement (oban_workflow_count): k edges of one dependent met in one ack batch cost k, not k².
       UPDATE ${deps} SET done = true, counted = false
       WHERE dep_id = dep AND NOT done AND (outcome = 'completed' OR policy = 'continue');
       IF FOUND THEN PERFORM set_config('nest_oban.workflow_met', 'yes', true); END IF;

       IF outcome = 'completed' THEN RETURN NULL; END IF;

       -- Not met: 'cancel' cancels the dependent (which cascades through this trigger), naming the
       -- dependency; 'hold' keeps it suspended until the dependency is retried and completes; a deleted
       -- dependency can never be retried, so it cancels held dependents too.
       UPDATE ${jobs} AS j
       SET state = 'cancelled', cancelled_at = now(),
           errors = array_append(j.errors, jsonb_build_object('attempt', j.attempt, 'at', ${now},
             'error', 'DependencyFailedError: dependency ''' || d.name || ''' (job ' || dep || ') was ' || outcome ||
               CASE WHEN d.policy = 'hold' THEN ' while this step was held for its retry' ELSE '' END))
       FROM ${deps} AS d
       WHERE d.dep_id = dep AND NOT d.done AND (d.policy = 'cancel' OR (d.policy = 'hold' AND outcome = 'deleted'))
         AND j.id = d.job_id AND j.state = 'suspended';

       UPDATE ${jobs} AS j
       SET meta = j.meta || jsonb_build_object('workflow_held',
             'dependency ''' || d.name || ''' (job ' || dep || ') was ' || outcome || '; retry it to release this step')
       FROM ${deps} AS d
       WHERE d.dep_id = dep AND NOT d.done AND d.policy = 'hold' AND outcome <> 'deleted'
         AND j.id = d.job_id AND j.state = 'suspended';
       RETURN NULL;
     END
     $fn$`,
    `DROP TRIGGER IF EXISTS oban_jobs_workflow_settle ON ${jobs}`,
    `CREATE TRIGGER oban_jobs_workflow_settle AFTER UPDATE OF state ON ${jobs}
       FOR EACH ROW
       WHEN (NEW.meta ? 'workflow_id' AND OLD.state IS DISTINCT FROM NEW.state
             AND NEW.state IN ('completed', 'discarded', 'cancelled'))
       EXECUTE FUNCTION ${schema}.oban_workflow_settle()`,
    `DROP TRIGGER IF EXISTS oban_jobs_workflow_delete ON ${jobs}`,
    `CREATE TRIGGER oban_jobs_workflow_delete AFTER DELETE ON ${jobs}
       FOR EACH ROW WHEN (OLD.meta ? 'workflow_id')
       EXECUTE FUNCTION ${schema}.oban_workflow_settle()`,

    // At the end of a statement that met edges: each dependent's counter goes down by its edges met; at
    // zero it runs, with its dependencies' results by step name in meta. A statement that met none
    // (every fetch and ack outside workflows) reads one transaction-local setting and returns.
    `CREATE OR REPLACE FUNCTION ${schema}.oban_workflow_count() RETURNS trigger LANGUAGE plpgsql AS $fn$
     DECLARE
       n integer;
     BEGIN
       IF current_setting('nest_oban.workflow_met', true) IS DISTINCT FROM 'yes' THEN RETURN NULL; END IF;
       PERFORM set_config('nest_oban.workflow_met', '', true);
       WITH met AS (
         UPDATE ${deps} SET counted = true WHERE done AND NOT counted RETURNING job_id
       ), counted AS (
         UPDATE ${holds} AS h SET pending = h.pending - m.n
         FROM (SELECT job_id, count(*)::int AS n FROM met GROUP BY job_id) AS m
         WHERE h.job_id = m.job_id
         RETURNING h.job_id, h.pending
       ), released AS (
         UPDATE ${jobs} AS j
         SET state = CASE WHEN j.scheduled_at > now() THEN 'scheduled' ELSE 'available' END::${state},
             meta = (j.meta - 'workflow_held') || jsonb_build_object('workflow_results', (
               SELECT COALESCE(jsonb_object_agg(d.name, r.result), '{}')
               FROM ${deps} AS d LEFT JOIN ${jobs} AS r ON r.id = d.dep_id
               WHERE d.job_id = j.id))
         FROM counted AS c
         WHERE c.pending = 0 AND j.id = c.job_id AND j.state = 'suspended'
         RETURNING j.queue, j.state
       )
       SELECT count(pg_notify('${insertChannel}', queue)) INTO n FROM released WHERE state = 'available';
       RETURN NULL;
     END
     $fn$`,
    `DROP TRIGGER IF EXISTS oban_jobs_workflow_count ON ${jobs}`,
    `CREATE TRIGGER oban_jobs_workflow_count AFTER UPDATE OF state OR DELETE ON ${jobs}
       FOR EACH STATEMENT EXECUTE FUNCTION ${schema}.oban_workflow_count()`,

    // Relay: tells waiters a job finished (or was deleted before it did); they read the row.
    `CREATE OR REPLACE FUNCTION ${schema}.oban_relay_notify() RETURNS trigger LANGUAGE plpgsql AS $fn$
     BEGIN
       IF TG_OP = 'DELETE' THEN
         PERFORM pg_notify('${relayChannel}', json_build_object('id', OLD.id, 'state', 'deleted')::text);
       ELSE
         PERFORM pg_notify('${relayChannel}', json_build_object('id', NEW.id, 'state', NEW.state)::text);
       END IF;
       RETURN NULL;
     END
     $fn$`,
    `DROP TRIGGER IF EXISTS oban_jobs_relay ON ${jobs}`,
    `CREATE TRIGGER oban_jobs_relay AFTER UPDATE OF state ON ${jobs}
       FOR EACH ROW
       WHEN (NEW.meta ? 'relay' AND OLD.state IS DISTINCT FROM NEW.state
             AND NEW.state IN ('completed', 'discarded', 'cancelled'))
       EXECUTE FUNCTION ${schema}.oban_relay_notify()`,
    `DROP TRIGGER IF EXISTS oban_jobs_relay_delete ON ${jobs}`,
    `CREATE TRIGGER oban_jobs_relay_delete AFTER DELETE ON ${jobs}
       FOR EACH ROW WHEN (OLD.meta ? 'relay' AND OLD.state NOT IN ('completed', 'discarded', 'cancelled'))
       EXECUTE FUNCTION ${schema}.oban_relay_notify()`,

    // Fires a batch's callbacks that are due and not fired yet; the caller holds the batch's row lock.
    `CREATE OR REPLACE FUNCTION ${schema}.oban_batch_fire(b ${batches}) RETURNS void LANGUAGE plpgsql AS $fn$
     DECLARE
       kind text;
       cb jsonb;
       newly jsonb := '{}';
       new_id bigint;
     BEGIN
       FOREACH kind IN ARRAY ARRAY['discarded', 'completed', 'exhausted'] LOOP
         cb := b.callbacks -> kind;
         CONTINUE WHEN cb IS NULL OR b.fired ? kind;
         CONTINUE WHEN kind = 'discarded' AND b.failed = 0;
         CONTINUE WHEN kind = 'completed' AND (b.pending > 0 OR b.failed > 0);
         CONTINUE WHEN kind = 'exhausted' AND b.pending > 0;
         INSERT INTO ${jobs} (state, queue, worker, args, meta, tags, max_attempts, priority)
         VALUES ('available', cb->>'queue', cb->>'worker', cb->'args',
                 COALESCE(cb->'meta', '{}') || jsonb_build_object('batch_callback', kind, 'callback_of_batch', b.id),
                 ARRAY(SELECT jsonb_array_elements_text(COALESCE(cb->'tags', '[]'))),
                 (cb->>'max_attempts')::int, (cb->>'priority')::int)
         RETURNING id INTO new_id;
         PERFORM pg_notify('${insertChannel}', cb->>'queue');
         newly := newly || jsonb_build_object(kind, new_id);
       END LOOP;
       IF newly <> '{}' THEN
         UPDATE ${batches} SET fired = ${batches}.fired || newly WHERE id = b.id;
       END IF;
     END
     $fn$`,
    // Counts a member moving into or out of a final state (a retry moves it back), or deleted.
    `CREATE OR REPLACE FUNCTION ${schema}.oban_batch_settle() RETURNS trigger LANGUAGE plpgsql AS $fn$
     DECLARE
       was text;
       now_is text;
     BEGIN
       was := CASE OLD.state WHEN 'completed' THEN 'completed'
                             WHEN 'discarded' THEN 'failed' WHEN 'cancelled' THEN 'failed' ELSE 'pending' END;
       IF TG_OP = 'DELETE' THEN
         IF was <> 'pending' THEN RETURN NULL; END IF;  -- a finished member pruned: the counts stand
         now_is := 'failed';                             -- deleted unfinished: it will never complete
       ELSE
         now_is := CASE NEW.state WHEN 'completed' THEN 'completed'
                                  WHEN 'discarded' THEN 'failed' WHEN 'cancelled' THEN 'failed' ELSE 'pending' END;
         IF was = now_is THEN RETURN NULL; END IF;
       END IF;
       INSERT INTO ${deltas} (batch_id, pending, completed, failed)
       VALUES (COALESCE(NEW.meta, OLD.meta)->>'batch_id',
               (now_is = 'pending')::int - (was = 'pending')::int,
               (now_is = 'completed')::int - (was = 'completed')::int,
               (now_is = 'failed')::int - (was = 'failed')::int);
       PERFORM set_config('nest_oban.batch_moved', 'yes', true);
       RETURN NULL;
     END
     $fn$`,
    // At the end of a statement that moved members: one update of each batch's row (its lock makes each
    // callback fire once), then the callbacks now due.
    `CREATE OR REPLACE FUNCTION ${schema}.oban_batch_count() RETURNS trigger LANGUAGE plpgsql AS $fn$
     DECLARE
       b ${batches};
     BEGIN
       IF current_setting('nest_oban.batch_moved', true) IS DISTINCT FROM 'yes' THEN RETURN NULL; END IF;
       PERFORM set_config('nest_oban.batch_moved', '', true);
       FOR b IN
         WITH moved AS (DELETE FROM ${deltas} RETURNING *), sums AS (
           SELECT batch_id, sum(pending)::int AS p, sum(completed)::int AS c, sum(failed)::int AS f
           FROM moved GROUP BY batch_id
         )
         UPDATE ${batches} AS t SET pending = t.pending + sums.p, completed = t.completed + sums.c,
                                    failed = t.failed + sums.f
         FROM sums WHERE t.id = sums.batch_id
         RETURNING t.*
       LOOP
         PERFORM ${schema}.oban_batch_fire(b);
       END LOOP;
       RETURN NULL;
     END
     $fn$`,
    `DROP TRIGGER IF EXISTS oban_jobs_batch_count ON ${jobs}`,
    `CREATE TRIGGER oban_jobs_batch_count AFTER UPDATE OF state OR DELETE ON ${jobs}
       FOR EACH STATEMENT EXECUTE FUNCTION ${schema}.oban_batch_count()`,
    `DROP TRIGGER IF EXISTS oban_jobs_batch_settle ON ${jobs}`,
    `CREATE TRIGGER oban_jobs_batch_settle AFTER UPDATE OF state ON ${jobs}
       FOR EACH ROW WHEN (NEW.meta ? 'batch_id' AND OLD.state IS DISTINCT FROM NEW.state)
       EXECUTE FUNCTION ${schema}.oban_batch_settle()`,
    `DROP TRIGGER IF EXISTS oban_jobs_batch_delete ON ${jobs}`,
    `CREATE TRIGGER oban_jobs_batch_delete AFTER DELETE ON ${jobs}
       FOR EACH ROW WHEN (OLD.meta ? 'batch_id')
       EXECUTE FUNCTION ${schema}.oban_batch_settle()`,
  ];
}

/**
 * The indexes on `oban_jobs`; `concurrently` for `onlineV5`. Status,
 * cancel-all, retry and the pruner find a workflow's or a batch's jobs by
 * them; the pruner keeps a workflow's jobs while any is unfinished, which one
 * probe of the `open` index tells.
 */
function jobIndexes(schema: string, concurrently: boolean): string[] {
  const jobs = `${schema}.oban_jobs`;
  const create = `CREATE INDEX ${concurrently ? 'CONCURRENTLY ' : ''}IF NOT EXISTS`;
  return [
    `${create} oban_jobs_workflow_index ON ${jobs} ((meta->>'workflow_id')) WHERE meta ? 'workflow_id'`,
    `${create} oban_jobs_workflow_open_index ON ${jobs} ((meta->>'workflow_id'))
       WHERE meta ? 'workflow_id' AND state NOT IN ('completed', 'discarded', 'cancelled')`,
    `${create} oban_jobs_batch_index ON ${jobs} ((meta->>'batch_id')) WHERE meta ? 'batch_id'`,
  ];
}

/**
 * The slow part of upV5 without blocking writes, for migrate() on a large
 * table: the three index builds, concurrently, each outside a transaction.
 */
export function onlineV5(schema: string): string[] {
  return jobIndexes(schema, true);
}

/** Drops what version 5 added; the enum keeps `suspended` (Postgres cannot drop an enum value), unused. */
export function downV5(schema: string): string[] {
  const jobs = `${schema}.oban_jobs`;
  return [
    `DROP TRIGGER IF EXISTS oban_jobs_batch_count ON ${jobs}`,
    `DROP TRIGGER IF EXISTS oban_jobs_batch_delete ON ${jobs}`,
    `DROP TRIGGER IF EXISTS oban_jobs_batch_settle ON ${jobs}`,
    `DROP TRIGGER IF EXISTS oban_jobs_relay_delete ON ${jobs}`,
    `DROP TRIGGER IF EXISTS oban_jobs_relay ON ${jobs}`,
    `DROP TRIGGER IF EXISTS oban_jobs_workflow_count ON ${jobs}`,
    `DROP TRIGGER IF EXISTS oban_jobs_workflow_delete ON ${jobs}`,
    `DROP TRIGGER IF EXISTS oban_jobs_workflow_settle ON ${jobs}`,
    `DROP FUNCTION IF EXISTS ${schema}.oban_batch_count()`,
    `DROP FUNCTION IF EXISTS ${schema}.oban_batch_settle()`,
    `DROP FUNCTION IF EXISTS ${schema}.oban_batch_fire(${schema}.oban_batches)`,
    `DROP FUNCTION IF EXISTS ${schema}.oban_relay_notify()`,
    `DROP FUNCTION IF EXISTS ${schema}.oban_workflow_count()`,
    `DROP FUNCTION IF EXISTS ${schema}.oban_workflow_settle()`,
    `DROP INDEX IF EXISTS ${schema}.oban_jobs_batch_index`,
    `DROP INDEX IF EXISTS ${schema}.oban_jobs_workflow_open_index`,
    `DROP INDEX IF EXISTS ${schema}.oban_jobs_workflow_index`,
    `DROP TABLE IF EXISTS ${schema}.oban_batch_deltas`,
    `DROP TABLE IF EXISTS ${schema}.oban_batches`,
    `DROP TABLE IF EXISTS ${schema}.oban_workflow_holds`,
    `DROP TABLE IF EXISTS ${schema}.oban_workflow_deps`,
    `UPDATE ${jobs} SET state = 'cancelled', cancelled_at = now() WHERE state::text = 'suspended'`,
  ];
}
