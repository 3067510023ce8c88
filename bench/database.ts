import { Client } from 'pg';

export const DEFAULT_BENCH_URL = 'postgres://postgres@127.0.0.1:5432/nest_oban_bench';

/** Creates the bench database when it does not exist; returns the server's version line. */
export async function ensureDatabase(url: string): Promise<string> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`bench: database name '${name}' must be letters, digits, '_'`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `bench: cannot reach PostgreSQL at ${target.host} (${(error as Error).message}); ` +
        `start it, or set BENCH_DATABASE_URL`,
    );
  }
  try {
    const { rows } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rows.length === 0) await client.query(`CREATE DATABASE "${name}"`);
    const version = await client.query('SHOW server_version');
    return `PostgreSQL ${version.rows[0].server_version}`;
  } finally {
    await client.end();
  }
}

/**
 * Waits (at most `maxMs`) until no autovacuum worker is busy in the bench
 * database: the drains before a latency run leave tens of thousands of dead
 * rows, and a vacuum running beside the latency run would time the vacuum.
 * Every system gets the same wait.
 */
export async function waitForIdleDatabase(url: string, maxMs = 60_000): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const deadline = Date.now() + maxMs;
    while (Date.now() < deadline) {
      const { rows } = await client.query(
        `SELECT count(*)::int AS busy FROM pg_stat_activity
         WHERE backend_type = 'autovacuum worker' AND datname = current_database()`,
      );
      if (rows[0].busy === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    await client.end();
  }
}
