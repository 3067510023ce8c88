import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { TestSchema } from './support/db';
import { waitFor } from './support/wait';

const MAIN = path.join(__dirname, 'fixtures/signals/main.ts');

interface AppProcess {
  child: ChildProcess;
  events: Array<{ event: string; pid?: number; id?: number }>;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The app as a terminal runs it: in its own process group, which Ctrl-C signals as a whole. */
function startApp(prefix: string, graceMs: number, jobMs: number): AppProcess {
  const child = spawn(process.execPath, ['-r', 'ts-node/register', MAIN, prefix, String(graceMs), String(jobMs)], {
    cwd: path.join(__dirname, '..'),
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const events: AppProcess['events'] = [];
  const read = (chunk: Buffer) => {
    text += chunk.toString();
    for (const line of chunk.toString().split('\n')) {
      if (line.startsWith('{')) events.push(JSON.parse(line));
    }
  };
  child.stdout!.on('data', read);
  child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, events, output: () => text, exited };
}

/** No process of the group is left (the pool processes included). */
function groupGone(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return false;
  } catch {
    return true;
  }
}

describe("Ctrl-C (SIGINT to the app's whole process group)", () => {
  const schema = new TestSchema('ctrl_c');
  before(() => schema.migrate());
  after(() => schema.drop());

  async function interrupt(graceMs: number, jobMs: number, thenKillPoolProcess = false) {
    // A job an earlier test left available would run beside this one's (and share its fate).
    await schema.query(`DELETE FROM ${schema.jobs}`);
    const app = startApp(schema.prefix, graceMs, jobMs);
    try {
      const started = await waitFor('the cpu job to start', () => app.events.find((e) => e.event === 'started'), {
        timeout: 60_000,
      }).catch((error) => assert.fail(`${error.message}\n${app.output()}`));
      process.kill(-app.child.pid!, 'SIGINT');
      if (thenKillPoolProcess) {
        // Once the main process is shutting down (it resigns leadership right after telling the pool),
        // a pool process dying must not be replaced.
        await waitFor('the app to begin its shutdown', () => /gave up leadership/.test(app.output()), {
          timeout: 20_000,
        });
        process.kill(started.pid!, 'SIGKILL');
      }
      const exit = await app.exited;
      await waitFor('every process of the group to exit', () => groupGone(app.child.pid!), { timeout: 20_000 });
      const [job] = await schema.query(`SELECT state, attempt, errors, result FROM ${schema.jobs} WHERE id = $1`, [
        started.id,
      ]);
      return { app, exit, started, job };
    } finally {
      if (!groupGone(app.child.pid!)) process.kill(-app.child.pid!, 'SIGKILL');
    }
  }

  it('the running cpu job finishes, the pool process tears down, and no replacement starts', async () => {
    const { app, started, job } = await interrupt(15_000, 1_500);
    assert.equal(job.state, 'completed', app.output());
    assert.equal(job.attempt, 1);
    assert.deepEqual(job.errors, []);
    assert.deepEqual(job.result, { pid: started.pid });
    // onModuleDestroy ran in the pool process that ran the job.
    assert.ok(
      app.events.some((e) => e.event === 'destroyed' && e.pid === started.pid),
      `no teardown in pool process ${started.pid}:\n${app.output()}`,
    );
    assert.deepEqual(
      app.events.filter((e) => e.event === 'pool-started').map((e) => e.pid),
      [started.pid],
      'only the first pool process ever started',
    );
    assert.doesNotMatch(app.output(), /killed by SIGINT|starting another/);
  });

  it('a cpu job still running after the grace period goes back to available without losing an attempt', async () => {
    const { app, started, job } = await interrupt(500, 8_000);
    assert.equal(job.state, 'available', app.output());
    assert.equal(job.attempt, 0, 'the attempt cut short is not counted');
    assert.deepEqual(job.errors, []);
    assert.deepEqual(
      app.events.filter((e) => e.event === 'pool-started').map((e) => e.pid),
      [started.pid],
      'no replacement started while shutting down',
    );
    assert.doesNotMatch(app.output(), /killed by SIGINT|starting another/);
  });

  it('a pool process that dies while the app shuts down is not replaced', async () => {
    const { app, started, job } = await interrupt(15_000, 4_000, true);
    assert.match(app.output(), new RegExp(`worker process ${started.pid} was killed by SIGKILL; not replaced`));
    assert.deepEqual(
      app.events.filter((e) => e.event === 'pool-started').map((e) => e.pid),
      [started.pid],
    );
    // Its job was charged for the crash, as any job whose process dies under it.
    assert.equal(job.state, 'retryable', app.output());
    assert.match(job.errors[0].error, /killed by SIGKILL while running this job/);
  });
});
