import { schemaNames, statementNamer } from '../db/sql';

/**
 * The SQL only the dashboard runs (its actions go through the `Oban` service,
 * its queue counts through `ClusterStore.jobCounts`). Every read here is
 * index-backed on a table of millions of rows; test/dashboard-plans.test.ts
 * EXPLAINs each on one.
 */
export type DashboardStatements = ReturnType<typeof buildDashboardStatements>;

/** Where a job list's window is read from: the index its leading filter has (migrations/v4.ts). */
export type ListPath = 'all' | 'state' | 'queue';

export function buildDashboardStatements(prefix: string) {
  const { jobs, stateType, nodes, peers, queues } = schemaNames(prefix);
  const named = statementNamer(prefix);

  /** The filters a list and a count share, from parameter $n on: state, queue, worker, tag, ILIKE pattern over args and meta. */
  const filters = (n: number) => `
      ($${n}::text IS NULL OR state = $${n}::${stateType})
      AND ($${n + 1}::text IS NULL OR queue = $${n + 1}::text)
      AND ($${n + 2}::text IS NULL OR worker = $${n + 2}::text)
      AND ($${n + 3}::text IS NULL OR tags @> ARRAY[$${n + 3}::text])
      AND ($${n + 4}::text IS NULL OR args::text ILIKE $${n + 4}::text OR meta::text ILIKE $${n + 4}::text)`;

  /**
   * One page of jobs, newest first, below cursor $1 (null: from the newest);
   * $4 to $8 the filters.
   * The window (`win`) is at most $2 rows read backwards along one index
   * (`path`); the filters are applied inside it and the first $3 matches
   * returned. So a request reads at most $2 rows whatever its filters match;
   * `scanned` and `floor` (the window's lowest id) tell the caller where the
   * next request continues when the window ran out before the page filled.
   */
  const listJobs = (path: ListPath) => {
    const lead = path === 'state' ? `state = $4::${stateType} AND ` : path === 'queue' ? `queue = $5::text AND ` : '';
    return named(
      `dash_list_jobs_${path}`,
      `
    WITH win AS MATERIALIZED (
      SELECT * FROM ${jobs}
      WHERE ${lead}id < COALESCE($1::bigint, 9223372036854775807)
      ORDER BY id DESC
      LIMIT $2::int
    ), hits AS (
      SELECT * FROM win WHERE ${filters(4)}
      ORDER BY id DESC
      LIMIT $3::int
    )
    SELECT (SELECT count(*) FROM win)::int AS scanned,
           (SELECT min(id) FROM win)::text AS floor,
           COALESCE((SELECT json_agg(row_to_json(hits) ORDER BY hits.id DESC) FROM hits), '[]'::json) AS jobs
    `,
    );
  };

  return {
    listAll: listJobs('all'),
    listByState: listJobs('state'),
    listByQueue: listJobs('queue'),

    /** The jobs a filter matches, exactly: runs only while the table is small (the planner says so), see `estimateFilter`. */
    countFilter: named('dash_count_filter', `SELECT count(*)::int AS count FROM ${jobs} WHERE ${filters(1)}`),

    /** The planner's estimate of what `countFilter` would count (EXPLAIN only: no job row is read). */
    estimateFilter: named('dash_estimate_filter', `EXPLAIN (FORMAT JSON) SELECT 1 FROM ${jobs} WHERE ${filters(1)}`),

    /** Live nodes, with whether each holds the leader lease, and their worker processes as last reported. */
    liveNodes: named(
      'dash_live_nodes',
      `
    SELECT n.node, n.queues, n.workers, n.started_at, n.expires_at, n.processes,
           COALESCE(p.node = n.node, false) AS leader
    FROM ${nodes} AS n
    LEFT JOIN ${peers} AS p ON p.name = 'oban' AND p.expires_at > now()
    WHERE n.expires_at > now()
    ORDER BY n.node
    `,
    ),

    /**
     * Jobs completed and failed per queue and minute since $1: completions
     * along the pruner's completed_at index, discards along discarded_at's,
     * failed attempts now retrying along the state index. The caller asks for
     * the last minutes only and keeps the older ones it already has.
     */
    activity: named(
      'dash_activity',
      `
    SELECT queue, 'completed' AS kind, extract(epoch FROM date_trunc('minute', completed_at))::bigint * 1000 AS minute,
           count(*)::int AS count
    FROM ${jobs} WHERE state = 'completed' AND completed_at >= $1::timestamptz
    GROUP BY 1, 3
    UNION ALL
    SELECT queue, 'failed', extract(epoch FROM date_trunc('minute', discarded_at))::bigint * 1000, count(*)::int
    FROM ${jobs} WHERE state = 'discarded' AND discarded_at >= $1::timestamptz
    GROUP BY 1, 3
    UNION ALL
    SELECT queue, 'failed', extract(epoch FROM date_trunc('minute', attempted_at))::bigint * 1000, count(*)::int
    FROM ${jobs} WHERE state = 'retryable' AND attempted_at >= $1::timestamptz
    GROUP BY 1, 3
    `,
    ),

    /** Jobs executing now per queue, exactly (bounded by the queues' limits, read along the state index). */
    executing: named(
      'dash_executing',
      `SELECT queue, count(*)::int AS count FROM ${jobs} WHERE state = 'executing' GROUP BY queue`,
    ),

    /** Every queue state set at run time (paused, scaled): a small table, read whole. */
    storedQueues: named('dash_stored_queues', `SELECT name, paused, "limit", limits FROM ${queues}`),

    /** The database's clock, so minutes line up with the timestamps above. */
    now: named('dash_now', `SELECT (extract(epoch FROM now()) * 1000)::float8 AS now_ms`),
  };
}
