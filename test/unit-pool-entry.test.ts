import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { Module } from '@nestjs/common';
import { isEntryFile } from '../lib/pool/module-locator';
import { detectTestRunner, testRunnerFallback } from '../lib/pool/test-runner';

@Module({})
class LocatedModule {}
export { LocatedModule };

describe('which files a worker process can load', () => {
  it('tells the test runner from the variables Vitest and Jest set', () => {
    assert.equal(detectTestRunner({ VITEST: 'true' }), 'Vitest');
    assert.equal(detectTestRunner({ JEST_WORKER_ID: '1' }), 'Jest');
    assert.equal(detectTestRunner({}), undefined);
  });

  it('runs cpu workers in the main process under a test runner only when the app is TypeScript without a hook', () => {
    const env = { VITEST: 'true' };
    const ts = '/app/src/app.module.ts';
    const line = testRunnerFallback(['HashWorker'], ts, [], [], env);
    assert.match(line!, /^Vitest detected: cpu workers \(HashWorker\) run in this process/);
    assert.match(line!, /processes: 0, or env OBAN_PRO_PROCESSES=0/);
    assert.equal(testRunnerFallback(['HashWorker'], ts, [], [], {}), undefined, 'no test runner');
    assert.equal(testRunnerFallback(['HashWorker'], '/app/dist/app.module.js', [], [], env), undefined, 'compiled');
    assert.equal(testRunnerFallback(['HashWorker'], ts, [], ['--import', 'tsx'], env), undefined, 'a hook loads it');
    // This file is TypeScript, found through require.cache when the root file is unknown.
    assert.ok(testRunnerFallback(['HashWorker'], undefined, [LocatedModule], [], { JEST_WORKER_ID: '3' }));
  });

  it('recognises the entry file when argv[1] lacks the extension (node dist/main under ESM)', () => {
    const main = path.join(__dirname, 'fixtures/generated-vitest-app/bundled/main.js');
    assert.ok(isEntryFile(main, main.slice(0, -'.js'.length), undefined));
    assert.ok(isEntryFile(main, main, undefined));
    assert.ok(isEntryFile(main, undefined, main), 'require.main under CommonJS');
    assert.ok(!isEntryFile(main, path.join(__dirname, 'fixtures/generated-vitest-app/bundled/other'), undefined));
  });
});
