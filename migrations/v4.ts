/**
 * Version 4: the indexes the dashboard's job lists read (nest-oban/dashboard).
 * Its lists are newest first and paged by keyset (`id < cursor ORDER BY id
 * DESC`), never OFFSET; filtered by state or by queue they walk these
 * indexes backwards and stop after one page, however large the table.
 */
export function upV4(schema: string): string[] {
  return [
    `CREATE INDEX IF NOT EXISTS oban_jobs_state_id_index ON ${schema}.oban_jobs (state, id)`,
    `CREATE INDEX IF NOT EXISTS oban_jobs_queue_id_index ON ${schema}.oban_jobs (queue, id)`,
  ];
}

export function downV4(schema: string): string[] {
  return [
    `DROP INDEX IF EXISTS ${schema}.oban_jobs_queue_id_index`,
    `DROP INDEX IF EXISTS ${schema}.oban_jobs_state_id_index`,
  ];
}
