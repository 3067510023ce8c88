import { schemaNames, statementNamer } from '../db/sql';

/**
 * The SQL only nest-oban/testing runs, kept out of the production statements
 * (db/statements.ts) so a running node never carries it.
 */
export function buildTestingStatements(prefix: string) {
  const { jobs } = schemaNames(prefix);
  const named = statementNamer(prefix);
  return {
    /**
     * Jobs still waiting to run (available or scheduled) matching $1 worker,
     * $2 queue, $3 args (contained), $4 meta (contained), $5 priority, $6 tags
     * (all present); nulls match anything.
     */
    listEnqueued: named(
      'list_enqueued',
      `
    SELECT * FROM ${jobs}
    WHERE state IN ('available', 'scheduled')
      AND ($1::text IS NULL OR worker = $1)
      AND ($2::text IS NULL OR queue = $2)
      AND ($3::jsonb IS NULL OR args @> $3::jsonb)
      AND ($4::jsonb IS NULL OR meta @> $4::jsonb)
      AND ($5::integer IS NULL OR priority = $5)
      AND ($6::text[] IS NULL OR tags @> $6::text[])
    ORDER BY id
    LIMIT $7
    `,
    ),

    /**
     * drainQueue withScheduled: makes queue $1's scheduled and retryable jobs
     * available now, those due by $2 when given.
     */
    stageQueue: named(
      'stage_queue',
      `
    UPDATE ${jobs} SET state = 'available'
    WHERE queue = $1 AND state IN ('scheduled', 'retryable')
      AND ($2::timestamptz IS NULL OR scheduled_at <= $2)
    `,
    ),
  };
}
