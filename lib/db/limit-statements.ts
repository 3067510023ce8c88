import { claimAssignments, schemaNames, statementNamer } from './sql';
import { quoteIdent } from './pg-database';

/**
 * The SQL of queues with a global or rate limit (lib/store/limited-claim.ts;
 * README, "Global, rate and partitioned limits"). A claim runs in its own
 * transaction, after `lockQueue` took the queue's advisory lock in a
 * statement of its own: in READ COMMITTED each statement's snapshot is taken
 * when it starts, so the claim that follows sees every claim committed by the
 * transactions that held the lock before. A lock taken inside the claim
 * statement would not.
 *
 * Parameters of the claims: $1 queue, $2 most jobs to claim (the node's free
 * slots), $3 node, $4 global limit (null: none), $5 starts allowed per window
 * (null: no rate limit), $6 the window in seconds,
 * $7 jobs of this node that finished with their outcome not written yet
 * (executing in their rows, yet their slots are free), $8 how jobs are
 * partitioned ('worker', 'args', 'meta'; null: not), $9 the args or meta keys,
 * $10 how many available jobs to rank (null: all) ($8 to $10 for
 * claimPartitioned only).
 */
export type LimitStatements = ReturnType<typeof buildLimitStatements>;

/** The statements before a limited claim: its statement timeout, then the queue's lock. */
export function claimPreamble(lockQueue: string, timeoutMs: number): string[] {
  return [`SET LOCAL statement_timeout = ${Math.round(timeoutMs)}`, lockQueue];
}

export function buildLimitStatements(prefix: string) {
  const { jobs, stateType, limitShares: shares } = schemaNames(prefix);
  const starts = `${quoteIdent(prefix)}.oban_rate_starts`;
  const named = statementNamer(prefix);

  /** A job's partition as text: its worker, or the JSON array of the values of the keys ($9) in args or meta. */
  const partitionOf = (j: string, mode = '$8', keys = '$9') => `CASE ${mode}::text
      WHEN 'worker' THEN ${j}.worker
      WHEN 'args' THEN (SELECT jsonb_agg(${j}.args -> k.key ORDER BY k.n) FROM unnest(${keys}::text[]) WITH ORDINALITY AS k(key, n))::text
      WHEN 'meta' THEN (SELECT jsonb_agg(${j}.meta -> k.key ORDER BY k.n) FROM unnest(${keys}::text[]) WITH ORDINALITY AS k(key, n))::text
      ELSE '' END`;

  const window = `$6::integer * interval '1 second'`;

  /**
   * What is taken of queue `queue`'s global limit is `leased` + `unleased`:
   * the shares leased to nodes (store/limit-shares.ts), and the executing jobs
   * of nodes holding none (nodes claiming under the lock, as the claims here
   * do), those matching `unless` left out. Both ways of claiming go by this one
   * measure, so a queue whose nodes change way (its limits changed at run
   * time) stays within its limit meanwhile.
   */
  const leased = (queue: string) =>
    `(SELECT COALESCE(sum(s.share), 0) FROM ${shares} AS s WHERE s.queue = ${queue})::integer`;
  const unleased = (queue: string, unless: string) => `(SELECT count(*) FROM ${jobs} AS j
      WHERE j.state = 'executing' AND j.queue = ${queue} AND NOT (${unless})
        AND NOT EXISTS (SELECT 1 FROM ${shares} AS s WHERE s.queue = ${queue} AND s.node = j.attempted_by[1]))::integer`;

  /**
   * The part every claim shares: `picked` (id, part) becomes `executing` (or
   * `discarded` with every attempt used, as fetchJobs does), attempted at the
   * claim's own clock, the time its starts are recorded at; starts older than
   * the window are pruned and this claim's are recorded, per partition. One
   * row comes back: the claimed jobs as JSON, in queue order (the node starts
   * them so; updated by id, they come back in id order), whether available jobs remain
   * (`more`: the limits held them back), and ms until the oldest start in the
   * window leaves it (`wait_ms`), so a short claim needs no second statement.
   * The `= ANY(ARRAY(...))` keeps the UPDATE a lookup by id: the planner cannot
   * size `picked` (its LIMIT is computed), guesses a tenth of the table, and
   * would otherwise hash-join the whole table on every claim (9 ms at 20,000
   * rows, growing with the table). The ORDER BY of `more` keeps it on the
   * queue's index, where a sequential scan would first pass every finished row.
   */
  const claimTail = `
    claimed AS (
      UPDATE ${jobs} AS j
      SET ${claimAssignments(stateType, '(SELECT at FROM clock)')}
      FROM picked
      WHERE j.id = picked.id AND j.id = ANY(ARRAY(SELECT id FROM picked))
      RETURNING j.*, picked.part AS limit_partition
    ), pruned AS (
      DELETE FROM ${starts} AS s USING clock
      WHERE $5::integer IS NOT NULL AND s.queue = $1 AND s.started_at <= clock.at - ${window}
    ), recorded AS (
      INSERT INTO ${starts} (queue, partition, started_at, started)
      SELECT $1, c.limit_partition, (SELECT at FROM clock), count(*) FROM claimed AS c
      WHERE $5::integer IS NOT NULL AND c.state = 'executing'
      GROUP BY c.limit_partition
    )
    SELECT (SELECT COALESCE(json_agg(c ORDER BY c.priority, c.scheduled_at, c.id), '[]') FROM claimed AS c) AS jobs,
      (SELECT count(*) FROM (SELECT 1 FROM ${jobs} WHERE state = 'available' AND queue = $1
                             ORDER BY priority, scheduled_at, id LIMIT $2::integer + 1) AS a)
        > (SELECT count(*) FROM claimed) AS more,
      CASE WHEN $5::integer IS NOT NULL THEN extract(epoch FROM LEAST(
        (SELECT min(s.started_at) FROM ${starts} AS s, clock WHERE s.queue = $1 AND s.started_at > clock.at - ${window}),
        (SELECT at FROM clock WHERE EXISTS (SELECT 1 FROM claimed WHERE state = 'executing'))
      ) + ${window} - (SELECT at FROM clock)) * 1000 END::float8 AS wait_ms`;

  return {
    /**
     * The queue's advisory lock, one per schema and queue, as SQL text run
     * alone (simple protocol, after BEGIN in the same round trip): queue names
     * and prefixes are plain (validation/rules.ts), and quotes are doubled anyway.
     */
    lockQueue: (queue: string) =>
      `SELECT pg_advisory_xact_lock(hashtextextended('${`nest-oban:limits:${prefix}:${queue}`.replace(/'/g, "''")}', 0))`,

    /**
     * An unpartitioned queue: at most $2, and at most what the global limit
     * and the window leave, in fetchJobs' order (the same index, the same LIMIT).
     */
    claim: named(
      'limit_claim',
      `
    WITH clock AS MATERIALIZED (SELECT clock_timestamp() AS at),
    budget AS (
      SELECT GREATEST(0, LEAST($2::integer,
        COALESCE($4::integer - ${leased('$1')} - ${unleased('$1', `j.id = ANY($7::bigint[])`)}, $2::integer),
        COALESCE($5::integer - (SELECT COALESCE(sum(s.started), 0) FROM ${starts} AS s, clock
                                WHERE $5::integer IS NOT NULL AND s.queue = $1 AND s.started_at > clock.at - ${window})::integer,
                 $2::integer))) AS n
    ), picked AS (
      SELECT id, ''::text AS part FROM ${jobs}
      WHERE state = 'available' AND queue = $1
      ORDER BY priority, scheduled_at, id
      LIMIT (SELECT n FROM budget)
      FOR UPDATE SKIP LOCKED
    ), ${claimTail}
    `,
    ),

    /**
     * A partitioned queue: each partition's budget is what its global limit
     * and its window leave. Available jobs are ranked within their partition
     * and taken by rank, so each partition with a budget gets its first job
     * before any gets a second: a partition with a long backlog does not
     * starve one with a short one. Ranks the first $10 available jobs of the
     * queue in queue order, along its index (null: every one; see
     * LimitedClaims for when each is used).
     */
    claimPartitioned: named(
      'limit_claim_partitioned',
      `
    WITH clock AS MATERIALIZED (SELECT clock_timestamp() AS at),
    running AS (
      SELECT ${partitionOf('j')} AS part, count(*)::integer AS n FROM ${jobs} AS j
      WHERE $4::integer IS NOT NULL AND j.state = 'executing' AND j.queue = $1 AND NOT j.id = ANY($7::bigint[])
      GROUP BY 1
    ), started AS (
      SELECT s.partition AS part, sum(s.started)::integer AS n FROM ${starts} AS s, clock
      WHERE $5::integer IS NOT NULL AND s.queue = $1 AND s.started_at > clock.at - ${window}
      GROUP BY 1
    ), ranked AS (
      SELECT j.id, j.priority, j.scheduled_at, p.part,
        row_number() OVER (PARTITION BY p.part ORDER BY j.priority, j.scheduled_at, j.id) AS rank
      FROM (SELECT * FROM ${jobs} WHERE state = 'available' AND queue = $1
            ORDER BY priority, scheduled_at, id LIMIT $10::integer) AS j
        CROSS JOIN LATERAL (SELECT ${partitionOf('j')} AS part) AS p
    ), budgeted AS (
      SELECT r.id, r.part FROM ranked AS r
      LEFT JOIN running AS ru ON ru.part = r.part
      LEFT JOIN started AS st ON st.part = r.part
      WHERE r.rank <= LEAST(COALESCE($4::integer - COALESCE(ru.n, 0), $2::integer),
                            COALESCE($5::integer - COALESCE(st.n, 0), $2::integer))
      ORDER BY r.rank, r.priority, r.scheduled_at, r.id
      LIMIT $2
    ), picked AS (
      SELECT j.id, b.part FROM ${jobs} AS j JOIN budgeted AS b ON b.id = j.id
      WHERE j.state = 'available'
      FOR UPDATE OF j SKIP LOCKED
    ), ${claimTail}
    `,
    ),

    /**
     * Per partition of queue $1 ($2 the window in seconds, null: no rate
     * limit; $3 and $4 the partitioning as $8 and $9 of the claims): jobs
     * running and available, and starts in the window. Reads every executing
     * and available job of the queue: an inspection, not a claim.
     */
    limitsByPartition: named(
      'limits_by_partition',
      `
    WITH counts AS (
      SELECT ${partitionOf('j', '$3', '$4')} AS part,
        count(*) FILTER (WHERE j.state = 'executing')::integer AS running,
        count(*) FILTER (WHERE j.state = 'available')::integer AS available
      FROM ${jobs} AS j
      WHERE j.state IN ('executing', 'available') AND j.queue = $1
      GROUP BY 1
    ), started AS (
      SELECT s.partition AS part, sum(s.started)::integer AS n FROM ${starts} AS s
      WHERE $2::integer IS NOT NULL AND s.queue = $1 AND s.started_at > clock_timestamp() - $2::integer * interval '1 second'
      GROUP BY 1
    )
    SELECT COALESCE(c.part, s.part) AS partition, COALESCE(c.running, 0) AS running,
      COALESCE(c.available, 0) AS available, COALESCE(s.n, 0) AS started
    FROM counts AS c FULL JOIN started AS s ON s.part = c.part
    ORDER BY 1
    `,
    ),

    /**
     * Under queue $1's lock, for node $2: every node's share and wants, and
     * what is taken by others outside the shares (executing jobs of nodes
     * holding none, this node's left out: its running jobs are in its share).
     */
    readShares: named(
      'read_limit_shares',
      `
    SELECT COALESCE((SELECT json_agg(json_build_object('node', s.node, 'share', s.share, 'wants', s.wants) ORDER BY s.node)
                     FROM ${shares} AS s WHERE s.queue = $1), '[]') AS shares,
      ${unleased('$1', `j.attempted_by[1] = $2`)} AS unleased
    `,
    ),

    /** Node $2's share of queue $1 becomes $3, what it wants $4. */
    writeShare: named(
      'write_limit_share',
      `
    INSERT INTO ${shares} (queue, node, share, wants) VALUES ($1, $2, $3, $4)
    ON CONFLICT (queue, node) DO UPDATE SET share = EXCLUDED.share, wants = EXCLUDED.wants, updated_at = now()
    `,
    ),

    /** Node $2 gives its share of queue $1 back (it stopped, or the queue no longer leases); the queue is woken on channel $3. */
    dropShare: named(
      'drop_limit_share',
      `WITH gone AS (DELETE FROM ${shares} WHERE queue = $1 AND node = $2 RETURNING 1)
       SELECT pg_notify($3, $1) FROM gone`,
    ),
  };
}
