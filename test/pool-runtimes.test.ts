import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { TestSchema } from './support/db';

const run = promisify(execFile);
const root = path.join(__dirname, '..');
const fixture = path.join(__dirname, 'fixtures/standalone');

/**
 * The same app run the ways users run Nest; worker processes must load the
 * app's code the way the main process does, with nothing configured.
 */
describe('the pool wherever Nest runs', () => {
  const schema = new TestSchema('runtimes');
  const built = mkdtempSync(path.join(root, '.build-test-'));
  after(async () => {
    rmSync(built, { recursive: true, force: true });
    await schema.drop();
  });

  async function check(command: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    const { stdout } = await run(command, args, {
      cwd: root,
      env: { ...stripLoaderEnv(process.env), STANDALONE_PREFIX: schema.prefix, ...env },
      timeout: 120_000,
    });
    const report = JSON.parse(stdout.trim().split('\n').at(-1)!);
    assert.equal(report.workerPids.length, 2);
    assert.equal(report.results.length, 6);
    for (const { state, result, errors } of report.results) {
      assert.equal(state, 'completed', JSON.stringify(errors));
      assert.ok(report.workerPids.includes(result.pid), 'ran in a worker process');
      assert.notEqual(result.pid, report.mainPid);
      assert.equal(result.loadedBy, result.pid, 'its module was set up in that process');
    }
  }

  it('compiled to JavaScript and run with plain node, as nest start does', async () => {
    await run(
      process.execPath,
      [
        require.resolve('typescript/bin/tsc'),
        '--ignoreConfig',
        '--outDir',
        built,
        '--rootDir',
        root,
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
        '--target',
        'ES2023',
        '--experimentalDecorators',
        '--emitDecoratorMetadata',
        '--esModuleInterop',
        '--skipLibCheck',
        '--types',
        'node',
        path.join(fixture, 'main.ts'),
      ],
      { cwd: root },
    );
    await check(process.execPath, [path.join(built, 'test/fixtures/standalone/main.js')]);
  });

  it('under ts-node', async () => {
    await check(process.execPath, ['-r', 'ts-node/register', path.join(fixture, 'main.ts')], {
      TS_NODE_TRANSPILE_ONLY: 'true',
    });
  });

  it('under tsx', async () => {
    await check(process.execPath, ['--import', 'tsx', path.join(fixture, 'main.ts')]);
  });
});

/** This test file itself runs under ts-node; the runs above must not inherit that by accident. */
function stripLoaderEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const clean = { ...env };
  delete clean.NODE_OPTIONS;
  return clean;
}
