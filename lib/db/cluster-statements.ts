import { insertJobsSql, schemaNames, statementNamer } from './sql';

/**
 * The SQL of running several nodes on one database: heartbeat and leadership,
 * rescue of a dead node's jobs, pruning, cron slots and persisted queue state.
 * Built once per schema prefix, like statements.ts. Every time is the
 * database's (`now()`), so nodes' clocks never have to agree; cron slots are
 * the one exception, computed by the leader and compared only to each other.
 */
export type ClusterStatements = ReturnType<typeof buildClusterStatements>;

export function buildClusterStatements(prefix: string) {
  const names = schemaNames(prefix);
  const { jobs, nodes, peers, queues, crons, stateType, insertChannel, signalChannel } = names;
  const ms = (param: string) => `${param} * interval '1 millisecond'`;
  const named = statementNamer(prefix);
  /** The caller ($n) holds an unexpired lease: leader-only writes check it in the database too. */
  const isLeader = (param: string) =>
    `EXISTS (SELECT 1 FROM ${peers} WHERE name = 'oban' AND node = ${param} AND expires_at > now())`;

  return {
    /**
     * One statement per heartbeat: renews this node's row ($1 node, $2 queues,
     * $3 workers, $4 node TTL ms) and, when $6, takes or renews the leader lease
     * ($5 ms). The lease moves only when its holder is this node or it expired;
     * concurrent attempts serialise on the row, so one node wins. `lapsed`: this
     * node's row had expired (it may have been declared dead meanwhile).
     */
    heartbeat: named(
      'heartbeat',
      `
    WITH beat AS (
      INSERT INTO ${nodes} AS n (node, queues, workers, started_at, expires_at)
      VALUES ($1, $2::text[], $3::text[], now(), now() + ${ms('$4')})
      ON CONFLICT (node) DO UPDATE
        SET expires_at = EXCLUDED.expires_at, queues = EXCLUDED.queues, workers = EXCLUDED.workers
      RETURNING n.node
    ), lease AS (
      INSERT INTO ${peers} AS p (name, node, elected_at, expires_at)
      SELECT 'oban', $1, now(), now() + ${ms('$5')} WHERE $6::boolean
      ON CONFLICT (name) DO UPDATE SET
        node = EXCLUDED.node,
        expires_at = EXCLUDED.expires_at,
        elected_at = CASE WHEN p.node = EXCLUDED.node AND p.expires_at >= now()
                          THEN p.elected_at ELSE EXCLUDED.elected_at END
      WHERE p.node = EXCLUDED.node OR p.expires_at < now()
      RETURNING p.node
    )
    SELECT EXISTS (SELECT 1 FROM lease) AS leader,
           COALESCE((SELECT expires_at < now() FROM ${nodes} WHERE node = $1), false) AS lapsed,
           (SELECT count(*) FROM beat)::int AS beats
    `,
    ),

    /**
     * Gives up the lease of node $1, if it holds it, and then tells every node
     * ($2: signal payload) so one takes over at once instead of at expiry.
     */
    resignLeader: named(
      'resign_leader',
      `
    WITH lease AS (DELETE FROM ${peers} WHERE name = 'oban' AND node = $1 RETURNING node)
    SELECT pg_notify('${signalChannel}', $2) AS notified FROM lease
    `,
    ),

    /** A node leaving after its jobs are done: its row goes, so it is not taken for dead. */
    removeNode: named('remove_node', `DELETE FROM ${nodes} WHERE node = $1`),

    /**
     * Lifeline (leader $1 only): jobs `executing` on a node that is no longer
     * alive go back to `available`, or to `discarded` when no attempt is left,
     * with the reason in `errors`; their queues are woken. A node is dead when
     * its row expired; a missing row counts only once this leader has held the
     * lease for a node TTL ($2 ms), as by then every live node has written its
     * row again (the UNLOGGED table is emptied by a database crash). At most $3
     * jobs per run. Also drops node rows expired for longer than $4 ms.
     */
    rescueJobs: named(
      'rescue_jobs',
      `
    WITH lease AS (
      SELECT elected_at FROM ${peers} WHERE name = 'oban' AND node = $1 AND expires_at > now()
    ), swept AS (
      DELETE FROM ${nodes} WHERE expires_at < now() - ${ms('$4')} AND EXISTS (SELECT 1 FROM lease)
    ), orphans AS (
      SELECT j.id FROM ${jobs} AS j
      WHERE j.state = 'executing'
        AND EXISTS (SELECT 1 FROM lease)
        AND NOT EXISTS (SELECT 1 FROM ${nodes} AS n WHERE n.node = j.attempted_by[1] AND n.expires_at > now())
        AND (EXISTS (SELECT 1 FROM ${nodes} AS n WHERE n.node = j.attempted_by[1])
             OR (SELECT elected_at FROM lease) <= now() - ${ms('$2')})
      ORDER BY j.id
      LIMIT $3
      FOR UPDATE OF j SKIP LOCKED
    ), rescued AS (
      UPDATE ${jobs} AS j SET
        state = CASE WHEN j.attempt >= j.max_attempts THEN 'discarded' ELSE 'available' END::${stateType},
        discarded_at = CASE WHEN j.attempt >= j.max_attempts THEN now() ELSE j.discarded_at END,
        errors = array_append(j.errors, jsonb_build_object(
          'attempt', j.attempt,
          'at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
          'error', 'NodeDiedError: node ' || COALESCE(j.attempted_by[1], '(unknown)') ||
                   ' stopped heartbeating while running this job')),
        meta = j.meta || jsonb_build_object('rescued', COALESCE((j.meta->>'rescued')::int, 0) + 1)
      FROM orphans
      WHERE j.id = orphans.id AND j.state = 'executing'
      RETURNING j.queue, j.state
    )
    SELECT queue,
           count(*) FILTER (WHERE state = 'available')::int AS available,
           count(*) FILTER (WHERE state = 'discarded')::int AS discarded,
           CASE WHEN count(*) FILTER (WHERE state = 'available') > 0
                THEN pg_notify('${insertChannel}', queue) END AS notified
    FROM rescued
    GROUP BY queue
    `,
    ),

    /**
     * Deletes at most $2 finished jobs older than $1 seconds, read through the
     * partial index of each final state. Rows locked elsewhere are skipped.
     */
    pruneJobs: named(
      'prune_jobs',
      `
    WITH doomed AS (
      SELECT id FROM ${jobs}
      WHERE (state = 'completed' AND completed_at < now() - $1 * interval '1 second')
         OR (state = 'cancelled' AND cancelled_at < now() - $1 * interval '1 second')
         OR (state = 'discarded' AND discarded_at < now() - $1 * interval '1 second')
      LIMIT $2
      FOR UPDATE SKIP LOCKED
    ), gone AS (
      DELETE FROM ${jobs} AS j USING doomed WHERE j.id = doomed.id RETURNING 1
    )
    SELECT count(*)::int AS deleted FROM gone
    `,
    ),

    /** Records crontab entries $1 not seen before as done up to $2, so a new entry never fires for the past. */
    registerCrons: named(
      'register_crons',
      `
    INSERT INTO ${crons} (name, last_slot)
    SELECT name, $2::timestamptz FROM unnest($1::text[]) AS name
    ON CONFLICT (name) DO NOTHING
    `,
    ),

    /**
     * Inserts the job of cron entry $1 for slot $2, once: the slot is claimed
     * in `oban_crons` (only forward, only by the leader $3) in the same
     * statement, so another node or a later leader finds it taken.
     * $4: one insert row as a JSON array (see insertJobs).
     */
    insertCronJob: named(
      'insert_cron_job',
      `
    WITH claim AS (
      UPDATE ${crons} SET last_slot = $2::timestamptz
      WHERE name = $1 AND last_slot < $2::timestamptz AND ${isLeader('$3')}
      RETURNING name
    ), ${insertJobsSql(names, '$4', 'claim, ')}
    RETURNING j.id, CASE WHEN j.state = 'available' THEN pg_notify('${insertChannel}', j.queue) END AS notified
    `,
    ),

    /**
     * Remembers queue $1's state (paused $2, limit $3; null leaves a field as
     * it was) and sends signal $4 to every node, in one statement.
     */
    setQueueState: named(
      'set_queue_state',
      `
    WITH saved AS (
      INSERT INTO ${queues} AS q (name, paused, "limit", updated_at) VALUES ($1, $2::boolean, $3::integer, now())
      ON CONFLICT (name) DO UPDATE SET
        paused = COALESCE(EXCLUDED.paused, q.paused),
        "limit" = COALESCE(EXCLUDED."limit", q."limit"),
        updated_at = now()
      RETURNING q.name
    )
    SELECT pg_notify('${signalChannel}', $4) AS notified FROM saved
    `,
    ),

    /** Remembered state of queues $1 (only those that have some). */
    queueStates: named('queue_states', `SELECT name, paused, "limit" FROM ${queues} WHERE name = ANY($1::text[])`),

    /** Queues some live node runs. */
    liveQueues: named('live_queues', `SELECT DISTINCT unnest(queues) AS queue FROM ${nodes} WHERE expires_at > now()`),
  };
}
