import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { waitFor } from './support/wait';

const HOLDER = path.join(__dirname, 'fixtures/pglite-holder.ts');

interface Holder {
  child: ChildProcess;
  output: () => string;
  readyAt: Promise<number>;
  exitedAt: Promise<number>;
}

/** An app process on the PGlite data dir `dir` (test/fixtures/pglite-holder.ts), holding it until stdin closes. */
function startHolder(dir: string): Holder {
  const child = spawn(process.execPath, ['-r', 'ts-node/register', HOLDER, dir, 'warn'], {
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let text = '';
  const readyAt = new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('ready')) resolve(Date.now());
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before it was ready:\n${text}`)));
  });
  readyAt.catch(() => undefined);
  child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exitedAt = new Promise<number>((resolve) => child.once('exit', () => resolve(Date.now())));
  return { child, output: () => text, readyAt, exitedAt };
}

describe('embedded PGlite across a watch restart (the new process starts while the old one holds the data dir)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nest-oban-pglite-restart-'));
  const started: ChildProcess[] = [];
  after(() => {
    for (const child of started) if (child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the new process waits for the old one to exit, says so, then boots', async () => {
    const old = startHolder(dir);
    started.push(old.child);
    await old.readyAt;
    const next = startHolder(dir);
    started.push(next.child);
    await waitFor('the new process to say it waits', () => next.output().includes('waiting up to'), {
      timeout: 60_000,
    }).catch(() => assert.fail(`the new process did not wait:\n${next.output()}`));
    assert.match(
      next.output(),
      new RegExp(`data dir ${dir} is in use by pid ${old.child.pid} .*waiting up to 10000 ms for it to exit`),
    );
    old.child.stdin!.end(); // the old process closes its app, as on the watcher's SIGTERM
    const oldExit = await old.exitedAt;
    const readyAt = await next.readyAt;
    assert.ok(readyAt >= oldExit, 'the new process opened the database only once the old one was gone');
    assert.equal(fs.readFileSync(path.join(dir, 'nest-oban.pid'), 'utf8').trim(), String(next.child.pid));
    next.child.stdin!.end();
    await next.exitedAt;
  });
});
