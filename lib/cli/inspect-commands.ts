import { JOB_STATES, type JobState } from '../job';
import { assertSchemaCurrent } from '../db/migrate';
import { PgDatabase } from '../db/pg-database';
import { type ParsedFlags, UsageError, integerFlag, stringFlag } from './args';
import type { CliContext, Command } from './command';
import { CONNECTION_FLAGS, connectionFlags } from './connection-flags';
import { buildCliStatements } from './statements';
import { formatTable } from './table';

const JSON_FLAG = { name: 'json', switch: true, help: 'one JSON array instead of a table' } as const;

/** Runs `read` on a small pool of the flags' database; read-only by its statements. */
async function withDatabase<T>(
  command: string,
  flags: ParsedFlags,
  context: CliContext,
  read: (db: PgDatabase, sql: ReturnType<typeof buildCliStatements>) => Promise<T>,
): Promise<T> {
  const { url, prefix } = connectionFlags(command, flags, context.env);
  const db = PgDatabase.fromUrl(url, 2);
  try {
    await assertSchemaCurrent(db, prefix);
    return await read(db, buildCliStatements(prefix));
  } finally {
    await db.close();
  }
}

interface QueueRow {
  queue: string;
  nodes: number;
  paused: boolean | null;
  limit: number | null;
  available: number;
  scheduled: number;
  executing: number;
  retryable: number;
  completed: number;
  discarded: number;
  cancelled: number;
}

export const queuesCommand: Command = {
  name: 'queues',
  usage: 'nest-oban queues [--database-url <url>] [--prefix <schema>] [--json]',
  summary:
    'Lists every queue: the live nodes running it, its stored pause and limit (- : as each node is configured), ' +
    'and its jobs by state. Reads only.',
  flags: [...CONNECTION_FLAGS, JSON_FLAG],
  async run(flags, context) {
    const rows = await withDatabase('queues', flags, context, (db, sql) => db.query<QueueRow>(sql.queueSummary));
    if (flags.json) {
      context.out(JSON.stringify(rows) + '\n');
      return 0;
    }
    const columns = ['queue', 'nodes', 'paused', 'limit', 'available', 'scheduled', 'executing', 'retryable'];
    const more = ['completed', 'discarded', 'cancelled'] as const;
    context.out(
      formatTable(
        [...columns, ...more],
        rows.map((r) => [
          r.queue,
          r.nodes,
          r.paused,
          r.limit,
          r.available,
          r.scheduled,
          r.executing,
          r.retryable,
          ...more.map((m) => r[m]),
        ]),
      ),
    );
    return 0;
  },
};

interface JobRow {
  id: string;
  state: JobState;
  queue: string;
  worker: string;
  attempt: number;
  max_attempts: number;
  scheduled_at: Date;
  attempted_at: Date | null;
  last_error: string | null;
}

export const jobsCommand: Command = {
  name: 'jobs',
  usage:
    'nest-oban jobs --state <state> [--queue <queue>] [--limit <n>] [--database-url <url>] [--prefix <schema>] [--json]',
  summary: 'Lists jobs in one state, newest first, with their last error. Reads only.',
  flags: [
    { name: 'state', value: 'state', help: `one of ${JOB_STATES.join(', ')}` },
    { name: 'queue', value: 'queue', help: 'only this queue' },
    { name: 'limit', value: 'n', help: 'at most this many jobs (default 20)' },
    ...CONNECTION_FLAGS,
    JSON_FLAG,
  ],
  async run(flags, context) {
    const state = stringFlag(flags, 'state');
    if (state === undefined) throw new UsageError(`nest-oban jobs: --state is required (${JOB_STATES.join(', ')})`);
    if (!JOB_STATES.includes(state as JobState)) {
      throw new UsageError(`nest-oban jobs: --state must be one of ${JOB_STATES.join(', ')}, got '${state}'`);
    }
    const limit = integerFlag('jobs', flags, 'limit', 1) ?? 20;
    const queue = stringFlag(flags, 'queue') ?? null;
    const rows = await withDatabase('jobs', flags, context, (db, sql) =>
      db.query<JobRow>(sql.listJobs, [state, queue, limit]),
    );
    if (flags.json) {
      context.out(JSON.stringify(rows.map((r) => ({ ...r, id: Number(r.id) }))) + '\n');
      return 0;
    }
    const firstLine = (text: string | null) => (text === null ? null : text.split('\n')[0].slice(0, 80));
    context.out(
      formatTable(
        ['id', 'state', 'queue', 'worker', 'attempt', 'scheduled_at', 'last_error'],
        rows.map((r) => [
          r.id,
          r.state,
          r.queue,
          r.worker,
          `${r.attempt}/${r.max_attempts}`,
          r.scheduled_at.toISOString(),
          firstLine(r.last_error),
        ]),
      ),
    );
    return 0;
  },
};
