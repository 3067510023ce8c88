/** The queue libraries the benchmarks compare. */
export type SystemName = 'nest-oban' | 'graphile-worker' | 'pg-boss';

export const SYSTEMS: SystemName[] = ['nest-oban', 'graphile-worker', 'pg-boss'];

/**
 * SQL counting the jobs in `schema` not finished yet, as `n`: each library
 * keeps finished rows its own way (nest-oban and pg-boss keep them in a final
 * state, graphile-worker deletes them). pg-boss's own queues (its cron) are
 * named `__pgboss__...`.
 */
export function unfinishedJobsSql(system: SystemName, schema: string): string {
  switch (system) {
    case 'nest-oban':
      return `SELECT count(*)::int AS n FROM "${schema}".oban_jobs WHERE state NOT IN ('completed', 'discarded', 'cancelled')`;
    case 'graphile-worker':
      return `SELECT count(*)::int AS n FROM "${schema}"._private_jobs`;
    case 'pg-boss':
      return `SELECT count(*)::int AS n FROM "${schema}".job WHERE state < 'completed' AND NOT starts_with(name, '__pgboss__')`;
  }
}
