import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import * as path from 'node:path';
import * as entry from '../lib';
import type { ArgsOf, Job, JobState, ObanModuleOptions, ObanWorker, ResultOf, WorkerOptions } from '../lib';
import { snooze } from '../lib';

const root = path.join(__dirname, '..');

describe('package', () => {
  it('one entry exports the module, decorator, service and outcomes', () => {
    for (const name of [
      'ObanModule',
      'Worker',
      'Oban',
      'snooze',
      'cancel',
      'JobSnooze',
      'JobCancel',
      'obanMigrations',
    ]) {
      assert.equal(typeof (entry as any)[name], 'function', `${name} is exported`);
    }
    // The types are exported too; this only compiles if they are.
    const job: Pick<Job<{ n: number }>, 'args'> & { state: JobState } = { args: { n: 1 }, state: 'available' };
    const worker: ObanWorker<{ n: number }, number> = { perform: (j) => j.args.n };
    const options: ObanModuleOptions & WorkerOptions = { queues: { default: 1 }, queue: 'default' };
    assert.ok(job && worker && options);
  });

  it('types a job by its worker: args from perform, result from what perform returns', () => {
    class Hash {
      async perform(job: Job<{ rounds: number }>) {
        if (job.args.rounds < 0) return snooze(1);
        return { digest: 'x'.repeat(job.args.rounds), pid: 1 };
      }
    }
    class Plain {
      perform() {
        return 42;
      }
    }
    // Compile-time checks: each line fails to typecheck if the inferred type is wrong.
    const args: ArgsOf<Hash> = { rounds: 3 };
    const result: ResultOf<Hash> = { digest: 'xxx', pid: 1 };
    const digest: string = result.digest;
    const plain: ResultOf<Plain> = 42;
    // @ts-expect-error a snooze is not a result
    const notResult: ResultOf<Hash> = snooze(1);
    assert.deepEqual([args.rounds, digest, plain, notResult instanceof Error], [3, 'xxx', 42, true]);
  });

  it('builds with tsc to dist/, where main and types point', () => {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
    assert.equal(pkg.main, 'dist/lib/index.js');
    assert.equal(pkg.types, 'dist/lib/index.d.ts');
    // Inside the repo, so the built code resolves its dependencies from node_modules.
    const out = mkdtempSync(path.join(root, '.build-test-'));
    try {
      execFileSync(
        process.execPath,
        [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', out],
        {
          cwd: root,
          stdio: 'pipe',
        },
      );
      const main = path.join(out, path.relative('dist', pkg.main));
      assert.ok(existsSync(main), `${main} was built`);
      assert.ok(existsSync(path.join(out, path.relative('dist', pkg.types))));
      const built = require(main);
      assert.equal(typeof built.ObanModule.forRoot, 'function');
      assert.equal(typeof built.Oban, 'function');
      // The pool process's entry is found by path, not imported: the build must ship it where the pool looks.
      const { POOL_PROCESS_ENTRY } = require(path.join(out, 'lib', 'pool', 'process-pool.js'));
      assert.equal(POOL_PROCESS_ENTRY, path.join(out, 'lib', 'pool', 'child', 'main.js'));
      assert.ok(existsSync(POOL_PROCESS_ENTRY), `${POOL_PROCESS_ENTRY} was built`);
      // Likewise the heartbeat thread's program.
      const { HEARTBEAT_THREAD_ENTRY } = require(path.join(out, 'lib', 'plugins', 'liveness', 'thread-liveness.js'));
      assert.ok(existsSync(HEARTBEAT_THREAD_ENTRY), `${HEARTBEAT_THREAD_ENTRY} was built`);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
  it('packs the nest-oban bin executable with its shebang, and ships no source map pointing outside the package', () => {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
    assert.deepEqual(pkg.bin, { 'nest-oban': 'dist/lib/cli/main.js' });
    // The package's own build script, in a copy of the sources (inside the repo: node_modules resolve upwards).
    const copy = mkdtempSync(path.join(root, '.pack-test-'));
    try {
      for (const entry of ['lib', 'migrations', 'sample', 'package.json', 'tsconfig.json', 'tsconfig.build.json']) {
        cpSync(path.join(root, entry), path.join(copy, entry), { recursive: true });
      }
      execFileSync('npm', ['run', 'build', '--silent'], { cwd: copy, stdio: 'pipe' });
      const [packed] = JSON.parse(
        execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
          cwd: copy,
          stdio: 'pipe',
        }).toString(),
      ) as Array<{ files: Array<{ path: string; mode: number }> }>;
      const files = new Map(packed.files.map((f) => [f.path, f.mode]));
      const bin = files.get(pkg.bin['nest-oban']);
      assert.ok(bin !== undefined, 'the bin is in the package');
      assert.equal(bin & 0o111, 0o111, `the bin is executable in the tarball (mode ${bin.toString(8)})`);
      assert.match(readFileSync(path.join(copy, pkg.bin['nest-oban']), 'utf8'), /^#!\/usr\/bin\/env node\n/);
      // A debugger follows a map's sources: each must be a file of the package (or no map is shipped).
      for (const file of [...files.keys()].filter((f) => f.endsWith('.map'))) {
        const map = JSON.parse(readFileSync(path.join(copy, file), 'utf8')) as {
          sources: string[];
          sourceRoot?: string;
        };
        for (const source of map.sources) {
          const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), map.sourceRoot ?? '', source));
          assert.ok(files.has(target), `${file} points at ${target}, which is not in the package`);
        }
      }
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
