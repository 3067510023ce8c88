/**
 * The queue systems the throughput benchmark compares: each library at its
 * defaults, and graphile-worker and pg-boss also at their published
 * performance settings ("-tuned"). BullMQ runs on Redis, as a reference;
 * "postgres-floor" is no library: the least a durable Postgres queue pays
 * here (bench/throughput/systems/postgres-floor.ts).
 */
export type SystemName =
  'nest-oban' | 'graphile-worker' | 'graphile-worker-tuned' | 'pg-boss' | 'pg-boss-tuned' | 'bullmq' | 'postgres-floor';

export const SYSTEMS: SystemName[] = [
  'nest-oban',
  'graphile-worker',
  'graphile-worker-tuned',
  'pg-boss',
  'pg-boss-tuned',
  'bullmq',
  'postgres-floor',
];

/** How a Postgres-backed library stores its jobs (a setting of a library keeps the same tables). */
export type Storage = 'nest-oban' | 'graphile-worker' | 'pg-boss' | 'postgres-floor';

/**
 * SQL counting the jobs in `schema` not finished yet, as `n`: each library
 * keeps finished rows its own way (nest-oban and pg-boss keep them in a final
 * state, graphile-worker deletes them). pg-boss's own queues (its cron) are
 * named `__pgboss__...`.
 */
export function unfinishedJobsSql(storage: Storage, schema: string): string {
  switch (storage) {
    case 'nest-oban':
      return `SELECT count(*)::int AS n FROM "${schema}".oban_jobs WHERE state NOT IN ('completed', 'discarded', 'cancelled')`;
    case 'graphile-worker':
      return `SELECT count(*)::int AS n FROM "${schema}"._private_jobs`;
    case 'pg-boss':
      return `SELECT count(*)::int AS n FROM "${schema}".job WHERE state < 'completed' AND NOT starts_with(name, '__pgboss__')`;
    case 'postgres-floor':
      return `SELECT count(*)::int AS n FROM "${schema}".jobs`;
  }
}
