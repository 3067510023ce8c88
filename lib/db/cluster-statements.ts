import { insertJobsSql, schemaNames, statementNamer } from './sql';

/**
 * The SQL of running several nodes on one database: heartbeat, node names and
 * leadership, rescue of a dead (or restarted) node's jobs, pruning, cron slots and persisted queue state.
 * Built once per schema prefix, like statements.ts. Every time is the
 * database's (`now()`), so nodes' clocks never have to agree; cron slots are
 * the one exception, computed by the leader and compared only to each other.
 */
export type ClusterStatements = ReturnType<typeof buildClusterStatements>;

export function buildClusterStatements(prefix: string) {
  const names = schemaNames(prefix);
  const { jobs, nodes, peers, queues, crons, limitShares, stateType, insertChannel, signalChannel } = names;
  const ms = (param: string) => `${param} * interval '1 millisecond'`;
  const named = statementNamer(prefix);
  /**
   * The CTE `rescued` and the final SELECT of a rescue: the `orphans` CTE's
   * jobs go back to `available` (their attempt stays counted), or to
   * `discarded` when none is left, with `error` (SQL) appended to `errors`;
   * counted per queue, and each queue with jobs made available is woken.
   */
  const putBack = (error: string) => `rescued AS (
      UPDATE ${jobs} AS j SET
        state = CASE WHEN j.attempt >= j.max_attempts THEN 'discarded' ELSE 'available' END::${stateType},
        discarded_at = CASE WHEN j.attempt >= j.max_attempts THEN now() ELSE j.discarded_at END,
        errors = array_append(j.errors, jsonb_build_object(
          'attempt', j.attempt,
          'at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
          'error', ${error})),
        meta = j.meta || jsonb_build_object('rescued', COALESCE((j.meta->>'rescued')::int, 0) + 1)
      FROM orphans
      WHERE j.id = orphans.id AND j.state = 'executing'
      RETURNING j.queue, j.state, j.attempted_by[1] AS node
    )
    SELECT queue, node,
           count(*) FILTER (WHERE state = 'available')::int AS available,
           count(*) FILTER (WHERE state = 'discarded')::int AS discarded,
           CASE WHEN count(*) FILTER (WHERE state = 'available') > 0
                THEN pg_notify('${insertChannel}', queue) END AS notified
    FROM rescued
    GROUP BY queue, node`;
  /** The caller ($n) holds an unexpired lease: leader-only writes check it in the database too. */
  const isLeader = (param: string) =>
    `EXISTS (SELECT 1 FROM ${peers} WHERE name = 'oban' AND node = ${param} AND expires_at > now())`;

  return {
    /**
     * The node's heartbeat ($1 node, $2 queues, $3 workers, $4 node TTL ms),
     * written from its own thread and connection where it can (see
     * plugins/liveness). `started_at` is when the node's current unbroken run
     * of heartbeats began: reset on its first beat ($6) and when this beat
     * comes more than $5 ms after the previous one, so a node that leads
     * knows since when the database has served it without a gap. `lapsed`:
     * this node's row had expired (it may have been declared dead meanwhile).
     */
    beatNode: named(
      'beat_node',
      `
    WITH beat AS (
      INSERT INTO ${nodes} AS n (node, queues, workers, started_at, expires_at)
      VALUES ($1, $2::text[], $3::text[], now(), now() + ${ms('$4')})
      ON CONFLICT (node) DO UPDATE SET
        expires_at = EXCLUDED.expires_at, queues = EXCLUDED.queues, workers = EXCLUDED.workers,
        started_at = CASE WHEN $6::boolean OR n.expires_at - ${ms('$4')} < now() - ${ms('$5')}
                          THEN now() ELSE n.started_at END
      RETURNING n.node
    )
    SELECT COALESCE((SELECT expires_at < now() FROM ${nodes} WHERE node = $1), false) AS lapsed
    `,
    ),

    /**
     * Takes or renews the leader lease for node $1 ($2 ms), if its own row is
     * alive. The lease moves only when its holder is this node or it expired;
     * concurrent attempts serialise on the row, so one node wins.
     */
    bidForLease: named(
      'bid_for_lease',
      `
    WITH lease AS (
      INSERT INTO ${peers} AS p (name, node, elected_at, expires_at)
      SELECT 'oban', $1, now(), now() + ${ms('$2')}
      WHERE EXISTS (SELECT 1 FROM ${nodes} WHERE node = $1 AND expires_at > now())
      ON CONFLICT (name) DO UPDATE SET
        node = EXCLUDED.node,
        expires_at = EXCLUDED.expires_at,
        elected_at = CASE WHEN p.node = EXCLUDED.node AND p.expires_at >= now()
                          THEN p.elected_at ELSE EXCLUDED.elected_at END
      WHERE p.node = EXCLUDED.node OR p.expires_at < now()
      RETURNING p.node
    )
    SELECT EXISTS (SELECT 1 FROM lease) AS leader
    `,
    ),

    /**
     * Takes node name $1 for this session (a session advisory lock, released
     * when the connection ends, so also when the process is killed): false
     * when another session holds it.
     */
    takeNodeName: named(
      'take_node_name',
      `SELECT pg_try_advisory_lock(hashtextextended('nest-oban:${prefix}:' || $1, 0)) AS taken`,
    ),

    /** Whether node $1's row is alive (it beat within its TTL). */
    nodeAlive: named(
      'node_alive',
      `SELECT EXISTS (SELECT 1 FROM ${nodes} WHERE node = $1 AND expires_at > now()) AS alive`,
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
     * Node $1's worker processes as it sees them now ($2, JSON), for every
     * node's dashboard; written only when they changed, into the row its
     * heartbeat keeps (no row: nothing, the next beat makes it).
     */
    reportProcesses: named(
      'report_processes',
      `UPDATE ${nodes} SET processes = $2::jsonb WHERE node = $1 AND processes IS DISTINCT FROM $2::jsonb`,
    ),

    /**
     * Lifeline (leader $1 only): jobs `executing` on a node that is not alive
     * (its row expired, or is gone) go back to `available`, or to `discarded`
     * when no attempt is left, with the reason in `errors`; their queues are
     * woken. Only while the leader's own unbroken run of heartbeats is at
     * least a node TTL ($2 ms) old: after an outage (or a crash that emptied
     * the UNLOGGED tables) every live node has had a full TTL of working
     * database to beat again before anyone's jobs are taken. At most $3 jobs
     * per run. Also drops node rows expired for longer than $4 ms, and the
     * shares of global limits (store/limit-shares.ts) held by dead nodes none
     * of whose jobs is executing any more: a share is free once its node's
     * jobs were rescued (by an earlier run: this statement still sees them).
     */
    rescueJobs: named(
      'rescue_jobs',
      `
    WITH lease AS (
      SELECT 1 FROM ${peers} AS p JOIN ${nodes} AS l ON l.node = p.node
      WHERE p.name = 'oban' AND p.node = $1 AND p.expires_at > now()
        AND l.expires_at > now() AND l.started_at <= now() - ${ms('$2')}
    ), swept AS (
      DELETE FROM ${nodes} WHERE expires_at < now() - ${ms('$4')} AND EXISTS (SELECT 1 FROM lease)
    ), freed AS (
      DELETE FROM ${limitShares} AS s
      WHERE EXISTS (SELECT 1 FROM lease)
        AND NOT EXISTS (SELECT 1 FROM ${nodes} AS n WHERE n.node = s.node AND n.expires_at > now())
        AND NOT EXISTS (SELECT 1 FROM ${jobs} AS j WHERE j.state = 'executing' AND j.attempted_by[1] = s.node)
    ), orphans AS (
      SELECT j.id FROM ${jobs} AS j
      WHERE j.state = 'executing'
        AND EXISTS (SELECT 1 FROM lease)
        AND NOT EXISTS (SELECT 1 FROM ${nodes} AS n WHERE n.node = j.attempted_by[1] AND n.expires_at > now())
      ORDER BY j.id
      LIMIT $3
      FOR UPDATE OF j SKIP LOCKED
    ), ${putBack(`'NodeDiedError: node ' || COALESCE(j.attempted_by[1], '(unknown)') || ' stopped heartbeating while running this job'`)}
    `,
    ),

    /**
     * At boot, once node $1 holds its name (no other live process has it):
     * the jobs an earlier process of that name left `executing` (killed and
     * restarted within its TTL, so its row never expired) are put back as
     * the lifeline would. At most $2 per run. It waits for rows locked
     * elsewhere rather than skip them: nobody else would ever take them.
     */
    rescueOwnJobs: named(
      'rescue_own_jobs',
      `
    WITH orphans AS (
      SELECT j.id FROM ${jobs} AS j
      WHERE j.state = 'executing' AND j.attempted_by[1] = $1
      ORDER BY j.id
      LIMIT $2
      FOR UPDATE OF j
    ), ${putBack(`'NodeRestartedError: node ' || $1 || ' restarted while running this job'`)}
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
      SELECT id FROM ${jobs} AS f
      WHERE ((state = 'completed' AND completed_at < now() - $1 * interval '1 second')
          OR (state = 'cancelled' AND cancelled_at < now() - $1 * interval '1 second')
          OR (state = 'discarded' AND discarded_at < now() - $1 * interval '1 second'))
        /* A workflow's jobs stay until none of it is left to run (one probe of a partial index, schema v5). */
        AND NOT (f.meta ? 'workflow_id' AND EXISTS (
          SELECT 1 FROM ${jobs} AS o
          WHERE o.meta ? 'workflow_id' AND o.meta->>'workflow_id' = f.meta->>'workflow_id'
            AND o.state NOT IN ('completed', 'discarded', 'cancelled')))
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
     * it was; $5, a JSON object of limits across nodes, merged over those
     * stored, a key with null removing a configured limit) and sends signal $4
     * to every node, in one statement.
     */
    setQueueState: named(
      'set_queue_state',
      `
    WITH saved AS (
      INSERT INTO ${queues} AS q (name, paused, "limit", limits, updated_at)
      VALUES ($1, $2::boolean, $3::integer, $5::jsonb, now())
      ON CONFLICT (name) DO UPDATE SET
        paused = COALESCE(EXCLUDED.paused, q.paused),
        "limit" = COALESCE(EXCLUDED."limit", q."limit"),
        limits = CASE WHEN EXCLUDED.limits IS NULL THEN q.limits ELSE COALESCE(q.limits, '{}') || EXCLUDED.limits END,
        updated_at = now()
      RETURNING q.name
    )
    SELECT pg_notify('${signalChannel}', $4) AS notified FROM saved
    `,
    ),

    /** Remembered state of queues $1 (only those that have some). */
    queueStates: named(
      'queue_states',
      `SELECT name, paused, "limit", limits FROM ${queues} WHERE name = ANY($1::text[])`,
    ),

    /** Queues some live node runs. */
    liveQueues: named('live_queues', `SELECT DISTINCT unnest(queues) AS queue FROM ${nodes} WHERE expires_at > now()`),

    /** The node holding an unexpired leader lease, if any (a health check's question). */
    currentLeader: named('current_leader', `SELECT node FROM ${peers} WHERE name = 'oban' AND expires_at > now()`),

    /**
     * For each queue of $1 with a backlog: the age in ms of its oldest job
     * `available` since a moment passed (scheduled_at). One probe of the
     * (state, queue, priority, scheduled_at, id) index per queue and priority
     * (0 to 9), so the cost does not grow with the backlog.
     */
    backlogAges: named(
      'backlog_ages',
      `
    SELECT q.queue, (extract(epoch FROM now() - min(oldest.scheduled_at)) * 1000)::float8 AS age_ms
    FROM unnest($1::text[]) AS q(queue)
    CROSS JOIN generate_series(0, 9) AS p(priority)
    CROSS JOIN LATERAL (
      SELECT j.scheduled_at FROM ${jobs} AS j
      WHERE j.state = 'available' AND j.queue = q.queue AND j.priority = p.priority AND j.scheduled_at <= now()
      ORDER BY j.scheduled_at
      LIMIT 1
    ) AS oldest
    GROUP BY q.queue
    `,
    ),

    /** The planner's estimate of the rows of oban_jobs (EXPLAIN only: nothing is read). */
    estimateJobs: named('estimate_jobs', `EXPLAIN (FORMAT JSON) SELECT 1 FROM ${jobs}`),

    /** Exact job counts per state and queue: the whole table (or its index) is read, so small tables only. */
    countJobs: named(
      'count_jobs',
      `SELECT state::text AS state, queue, count(*)::int AS count FROM ${jobs} GROUP BY state, queue`,
    ),

    /**
     * The queues to estimate: those live nodes run, and the queue column's
     * most common values in the planner's statistics (ANALYZE). Reads no job row.
     */
    estimateQueues: named(
      'estimate_queues',
      `
    SELECT DISTINCT unnest(queues) AS queue FROM ${nodes} WHERE expires_at > now()
    UNION
    SELECT unnest(most_common_vals::text::text[]) FROM pg_stats
    WHERE schemaname = '${prefix.replace(/'/g, "''")}' AND tablename = 'oban_jobs' AND attname = 'queue'
    `,
    ),

    /** The planner's estimate of the jobs in state $1 of queue $2 (EXPLAIN only, as Oban's count estimates). */
    estimateJobCount: named(
      'estimate_job_count',
      `EXPLAIN (FORMAT JSON) SELECT 1 FROM ${jobs} WHERE state = $1::${stateType} AND queue = $2::text`,
    ),
  };
}
