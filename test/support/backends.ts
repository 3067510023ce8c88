import type { TestSchema } from './db';
import { waitFor } from './wait';

/** `url` with `application_name` set, so a test can find that app's backends in pg_stat_activity. */
export function withAppName(url: string, applicationName: string): string {
  const u = new URL(url);
  u.searchParams.set('application_name', applicationName);
  return u.toString();
}

/** The backend pids of `applicationName` holding a LISTEN (the notifier's connection). */
export async function listenBackends(schema: TestSchema, applicationName: string): Promise<number[]> {
  const rows = await schema.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN %'`,
    [applicationName],
  );
  return rows.map((r) => r.pid);
}

/**
 * Kills the LISTEN backend of `applicationName` with pg_terminate_backend and
 * waits until it is gone (so a NOTIFY sent next cannot reach it); fails if
 * there is none.
 */
export async function terminateListener(schema: TestSchema, applicationName: string): Promise<number> {
  const pids = await listenBackends(schema, applicationName);
  if (pids.length !== 1) throw new Error(`expected one LISTEN backend of ${applicationName}, found ${pids.length}`);
  const [{ gone }] = await schema.query<{ gone: boolean }>(`SELECT pg_terminate_backend($1, 5000) AS gone`, [pids[0]]);
  if (!gone) throw new Error(`LISTEN backend ${pids[0]} of ${applicationName} did not exit`);
  return pids[0];
}

/** Waits until a unique insert into `schema` waits on another transaction's row (a lock wait, seen in pg_stat_activity). */
export function uniqueInsertWaiting(schema: TestSchema): Promise<true> {
  return waitFor('the insert to wait on the holder', async () => {
    const [w] = await schema.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE wait_event = 'transactionid' AND query LIKE '%unique_base text%' AND query LIKE '%' || $1 || '%'`,
      [schema.prefix],
    );
    return w.n > 0;
  });
}
