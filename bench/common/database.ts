import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** Every benchmark's database: BENCH_DATABASE_URL, or nest_oban_bench on 127.0.0.1 (created when missing). */
export const BENCH_DATABASE_URL =
  process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/nest_oban_bench';

/** Runs `fn` on a connection of its own, closed afterwards. */
export async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `bench: cannot reach PostgreSQL at ${new URL(url).host} (${(error as Error).message}); ` +
        `start it, or set BENCH_DATABASE_URL`,
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates the database of `url` when it does not exist; returns the server's version line. */
export async function ensureDatabase(url: string): Promise<string> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`bench: database name '${name}' must be letters, digits, '_'`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  return withClient(admin.toString(), async (client) => {
    const { rows } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rows.length === 0) await client.query(`CREATE DATABASE "${name}"`);
    const version = await client.query('SHOW server_version');
    return `PostgreSQL ${version.rows[0].server_version}`;
  });
}

/** A schema name of its own for one run, so that no run sees another's jobs. */
export function uniqueSchema(label: string): string {
  return `${label}_${randomBytes(3).toString('hex')}`;
}

export async function dropSchema(url: string, schema: string): Promise<void> {
  await withClient(url, (client) => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
}
