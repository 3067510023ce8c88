import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { DATABASE_URL, TestSchema } from './support/db';
import { waitFor } from './support/wait';

const run = promisify(execFile);
const fixtures = path.join(__dirname, 'fixtures');

interface App {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

function count(text: string, pattern: RegExp): number {
  return text.match(new RegExp(pattern, 'g'))?.length ?? 0;
}

/**
 * Bundled builds: every module of the app is in dist/main.js (webpack, CJS)
 * or in one ESM file (rspack's output, by hand here), run as `node dist/main`.
 * Worker processes take the app's modules from the bundle without starting
 * the app: the cpu job runs there with its injected service, and the HTTP app
 * starts once, in the main process.
 */
describe('bundled builds', () => {
  const schema = new TestSchema('bundles');
  const started: ChildProcess[] = [];
  after(async () => {
    for (const child of started) if (child.exitCode === null) child.kill('SIGKILL');
    await schema.drop();
  });

  function startApp(cwd: string, entry: string, prefix: string, env: NodeJS.ProcessEnv = {}): App {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL, OBAN_PREFIX: prefix, ...env };
    for (const name of ['NODE_OPTIONS', 'NODE_TEST_CONTEXT', 'TS_NODE_TRANSPILE_ONLY']) delete childEnv[name];
    const child = spawn(process.execPath, [entry], { cwd, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    started.push(child);
    let text = '';
    child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, output: () => text, exited };
  }

  async function runCpuJob(app: App, prefix: string) {
    await waitFor('the app to start', () => app.output().includes('Nest application successfully started'), {
      timeout: 60_000,
    }).catch(() => assert.fail(`the app did not start:\n${app.output()}`));
    const [{ id }] = await schema.query(
      `INSERT INTO "${prefix}".oban_jobs (worker, queue, args) VALUES ('HashWorker', 'hashing', $1) RETURNING id`,
      [{ text: 'nest', rounds: 500 }],
    );
    const job = await waitFor(
      'the cpu job to complete',
      async () => {
        const [row] = await schema.query(`SELECT state, result, errors FROM "${prefix}".oban_jobs WHERE id = $1`, [id]);
        return row.state === 'completed' || row.state === 'retryable' ? row : undefined;
      },
      { timeout: 30_000 },
    );
    assert.equal(job.state, 'completed', `${JSON.stringify(job.errors)}\n${app.output()}`);
    assert.notEqual(job.result.pid, app.child.pid, 'ran in a worker process');
    assert.equal(job.result.serviceBootedIn, job.result.pid, 'its injected service was set up in that process');
    // The app itself started once: in the main process, not in the worker processes.
    assert.equal(count(app.output(), /Starting Nest application/), 1, app.output());
    assert.doesNotMatch(app.output(), /EADDRINUSE/);
    app.child.kill('SIGTERM');
    await app.exited;
  }

  it('webpack (nest build with "webpack": true): the pool boots the worker module from dist/main.js', async () => {
    const cwd = path.join(fixtures, 'generated-webpack-app');
    assert.ok(
      existsSync(path.join(cwd, 'node_modules/nest-oban/package.json')),
      'generated-webpack-app is not installed: run bash test/support/install-generated-apps.sh',
    );
    await run('npx', ['nest', 'build'], { cwd, timeout: 180_000 });
    assert.deepEqual(
      readdirSync(path.join(cwd, 'dist')).filter((f) => f.endsWith('.js')),
      ['main.js'],
      'one bundle',
    );
    const prefix = `${schema.prefix}_webpack`;
    const app = startApp(cwd, 'dist/main', prefix, { PORT: String(await freePort()) });
    await runCpuJob(app, prefix);
  });

  it('one ESM file run as `node bundled/main` (rspack): recognised as the entry, and the HTTP app never starts in a worker process', async () => {
    const cwd = path.join(fixtures, 'generated-vitest-app');
    const prefix = `${schema.prefix}_esm`;
    const app = startApp(cwd, 'bundled/main', prefix, { PORT: String(await freePort()) });
    await runCpuJob(app, prefix);
    assert.equal(count(app.output(), /listening in pid \d+/), 1);
    assert.match(app.output(), new RegExp(`listening in pid ${app.child.pid}`));
  });

  it('a bundle that starts a server as it loads: the worker process refuses, and boot fails saying why', async () => {
    const cwd = path.join(fixtures, 'generated-vitest-app');
    const prefix = `${schema.prefix}_listen`;
    const app = startApp(cwd, 'bundled/main', prefix, {
      PORT: String(await freePort()),
      METRICS_PORT: String(await freePort()),
    });
    const code = await app.exited;
    assert.notEqual(code, 0);
    assert.match(app.output(), /a worker process for the cpu workers \(HashWorker\) failed to start/);
    assert.match(app.output(), /a nest-oban worker process never starts the app, but something tried to listen on \d+/);
    assert.equal(count(app.output(), /listening in pid/), 0);
  });

  it('a bundle whose entry starts no Nest app when a worker process loads it: boot fails naming the bundle', async () => {
    const cwd = path.join(fixtures, 'generated-jest-app');
    const app = startApp(cwd, 'bundled/main', `${schema.prefix}_guarded`);
    const code = await app.exited;
    assert.notEqual(code, 0);
    assert.match(
      app.output(),
      /failed to start: module HashModule is only in .*bundled\/main\.js, the program's entry \(a bundled build/,
    );
    assert.match(app.output(), /which must run whenever the file loads/);
  });
});
