import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, fork } from 'node:child_process';
import * as path from 'node:path';
import { Pool } from 'pg';
import { ThrowawayPostgres } from '../support/throwaway-postgres';
import { sleep, waitFor } from '../support/wait';

/**
 * A user's own pg Pool as `connection`, in an app in its own process, while
 * its (throwaway) Postgres server restarts: the pool's idle connections all
 * fail at once, which pg reports as 'error' events on the pool.
 */
describe("a user's own pg.Pool across a Postgres restart", () => {
  let server: ThrowawayPostgres;
  let db: Pool;
  let app: ChildProcess | undefined;
  let exit: Promise<number | null> = Promise.resolve(null);
  before(async () => {
    server = await ThrowawayPostgres.create();
    db = new Pool({ connectionString: server.url, max: 2 });
    db.on('error', () => undefined); // the test's own pool lives through the restart too
  });
  after(async () => {
    if (app && app.exitCode === null && app.signalCode === null) {
      app.kill('SIGKILL');
      await exit;
    }
    await db?.end();
    await server?.destroy();
  });

  const insertJob = async () => {
    const [row] = (
      await db.query(`INSERT INTO oban_jobs (worker, queue, args) VALUES ('UserPoolWorker', 'work', '{}') RETURNING id`)
    ).rows;
    await db.query(`SELECT pg_notify('public.oban_insert', 'work')`);
    return Number(row.id);
  };
  const completed = (id: number, what: string) =>
    waitFor(
      what,
      async () => {
        const { rows } = await db.query(`SELECT state FROM oban_jobs WHERE id = $1`, [id]).catch(() => ({ rows: [] }));
        return rows[0]?.state === 'completed';
      },
      { timeout: 20_000, interval: 100 },
    );

  it('no unhandled pool error crashes the app; it completes jobs after the restart', async () => {
    const child = fork(path.join(__dirname, '../fixtures/faults-connection/user-pool-app.ts'), [], {
      execArgv: ['-r', 'ts-node/register'],
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true', OBAN_TEST_DATABASE_URL: server.url },
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    app = child;
    let stderr = '';
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
      process.stderr.write(chunk);
    });
    exit = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`the app exited (${code}) before it was ready`)));
    });
    await completed(await insertJob(), 'a job before the restart');

    await server.stop('fast');
    await sleep(500); // the app's idle connections are gone; let it notice
    await server.start();
    await sleep(500);
    assert.equal(child.exitCode, null, `the app is alive (stderr: ${stderr.slice(-2_000)})`);
    assert.equal(child.signalCode, null);
    assert.doesNotMatch(stderr, /Unhandled 'error' event|uncaughtException/);

    await completed(await insertJob(), 'a job after the restart');
    assert.equal(child.exitCode, null, 'still alive');
    child.send({ cmd: 'stop' });
    assert.equal(await exit, 0, 'a clean stop');
  });
});
