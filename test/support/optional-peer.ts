import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

const root = path.join(__dirname, '..', '..');

/** Checks package.json offers `subpath` (e.g. './health') as its own entry, with `peer` an optional peer only. */
export function assertOptionalEntry(subpath: string, peer: string): void {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  const dir = subpath.replace(/^\.\//, '');
  assert.deepEqual(pkg.exports[subpath], {
    types: `./dist/lib/${dir}/index.d.ts`,
    default: `./dist/lib/${dir}/index.js`,
  });
  assert.ok(pkg.peerDependencies[peer]);
  assert.deepEqual(pkg.peerDependenciesMeta[peer], { optional: true });
  assert.equal(pkg.dependencies?.[peer], undefined);
}

/** Runs `code` (from the repo root, TypeScript through ts-node) in a process where `peer` cannot be found. */
export function runWithout(peer: string, code: string): SpawnSyncReturns<string> {
  // As in an app that never installed the peer.
  const hide = `const M = require('module'); const resolve = M._resolveFilename;
    M._resolveFilename = function (request, ...rest) {
      if (request === ${JSON.stringify(peer)} || request.startsWith(${JSON.stringify(peer + '/')})) {
        const e = new Error("Cannot find module '" + request + "'"); e.code = 'MODULE_NOT_FOUND'; throw e;
      }
      return resolve.call(this, request, ...rest);
    };`;
  return spawnSync(process.execPath, ['-r', 'ts-node/register', '-e', `${hide}\n${code}`], {
    cwd: root,
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

/** Checks that nest-oban's main entry loads without `peer`, and that `entry` (which needs it) fails saying so. */
export function assertLoadsWithout(peer: string, entry: string): void {
  const main = runWithout(peer, `const m = require('./lib'); console.log(Object.keys(m).join(','));`);
  assert.equal(main.status, 0, main.stderr);
  assert.match(main.stdout, /ObanModule/);
  const optional = runWithout(peer, `require(${JSON.stringify(entry)});`);
  assert.notEqual(optional.status, 0);
  assert.ok(optional.stderr.includes(`Cannot find module '${peer}'`), optional.stderr);
}
