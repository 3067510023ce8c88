import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { OBAN_SCHEMA_VERSION } from '../migrations';
import { schemaVersion } from '../lib/db/migrate';
import { DATABASE_URL, TestSchema } from './support/db';
import { waitFor } from './support/wait';

const root = path.join(__dirname, '..');
const run = promisify(execFile);

/**
 * The CLI as a user runs it: compiled with tsc (with a worker module of an
 * app, importing the same build) into a temp dir, then `node <build>/lib/cli/main.js`
 * as its own OS process, against the shared Postgres.
 */
describe('nest-oban CLI', () => {
  const schema = new TestSchema('cli');
  let build: string;
  let cli: string;
  let workerModule: string;
  const marker = () => path.join(build, 'teardown.log');

  before(async () => {
    // Inside the repo, so the build resolves its dependencies from node_modules.
    build = mkdtempSync(path.join(root, '.cli-test-'));
    const tsc = require.resolve('typescript/bin/tsc');
    const flags = [
      '--ignoreConfig',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'ES2023',
      '--types',
      'node',
    ];
    const more = ['--experimentalDecorators', '--emitDecoratorMetadata', '--esModuleInterop', '--skipLibCheck'];
    await run(
      process.execPath,
      [
        tsc,
        ...flags,
        ...more,
        '--rootDir',
        root,
        '--outDir',
        build,
        path.join(root, 'lib/cli/main.ts'),
        path.join(root, 'test/fixtures/cli/worker.module.ts'),
      ],
      { cwd: root },
    );
    cli = path.join(build, 'lib/cli/main.js');
    workerModule = path.join(build, 'test/fixtures/cli/worker.module.js');
    assert.ok(existsSync(cli) && existsSync(workerModule), 'tsc built the CLI and the worker module');
  });
  after(async () => {
    rmSync(build, { recursive: true, force: true });
    await schema.drop();
  });

  /** Runs the CLI to its end: exit code, stdout, stderr. */
  async function nestOban(args: string[], env: NodeJS.ProcessEnv = {}) {
    return new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const child = spawn(process.execPath, [cli, ...args], {
        cwd: build,
        env: { ...process.env, DATABASE_URL, ...env },
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      child.on('exit', (code) => resolve({ code, out, err }));
    });
  }

  describe('help and usage errors', () => {
    it('lists the commands, and each command has --help with its flags', async () => {
      const overview = await nestOban(['--help']);
      assert.equal(overview.code, 0);
      for (const name of ['start', 'migrate', 'queues', 'jobs'])
        assert.match(overview.out, new RegExp(`\\n  ${name} `));
      const expected: Record<string, string[]> = {
        start: ['--module <file>', '--export <name>', '--queues <q:n,...>', '--processes <n>'],
        migrate: ['--print', '--from <version>', '--database-url <url>', '--prefix <schema>'],
        queues: ['--database-url <url>', '--json'],
        jobs: ['--state <state>', '--queue <queue>', '--limit <n>', '--json'],
      };
      for (const [command, flags] of Object.entries(expected)) {
        const help = await nestOban([command, '--help']);
        assert.equal(help.code, 0, command);
        assert.match(help.out, new RegExp(`^Usage: nest-oban ${command}`));
        for (const flag of flags) assert.ok(help.out.includes(flag), `${command} --help shows ${flag}:\n${help.out}`);
      }
    });

    it('names the flag in every usage error, with exit code 2', async () => {
      const cases: Array<[string[], RegExp]> = [
        [['launch'], /unknown command 'launch'/],
        [['start'], /--module <file> is required/],
        [['start', '--module', 'nope.js'], /--module nope\.js: no such file/],
        [
          ['start', '--module', workerModule, '--processes', 'four'],
          /--processes must be a whole number >= 0, got 'four'/,
        ],
        [['start', '--module', workerModule, '--queues', 'default:many'], /--queues: queue 'default' has limit 'many'/],
        [
          ['start', '--module', workerModule, '--export', 'Nope'],
          /--export Nope: .* exports no Nest module of that name \(its modules: WorkerModule, HashModule\)/,
        ],
        [
          ['start', '--module', workerModule],
          /exports several Nest modules \(WorkerModule, HashModule\); name one with --export/,
        ],
        [
          ['start', '--module', workerModule, '--export', 'HashModule'],
          /HashModule \(.*\) does not import ObanModule\.forRoot\(\) or forRootAsync\(\)/,
        ],
        [['start', '--bogus'], /unknown flag --bogus/],
        [['start', '--module'], /--module needs a value/],
        [['jobs'], /--state is required/],
        [['jobs', '--state', 'stuck'], /--state must be one of scheduled, available, executing/],
        [['jobs', '--state', 'retryable', '--limit', '0'], /--limit must be a whole number >= 1, got '0'/],
        [['queues', '--database-url', 'mysql://x'], /--database-url must be a postgres:\/\/ URL/],
        [['queues', '--prefix', 'bad-name'], /--prefix must be a schema name/],
        [['migrate', '--from', '1'], /--from is only used with --print/],
      ];
      for (const [args, message] of cases) {
        const result = await nestOban(args);
        assert.equal(result.code, 2, `${args.join(' ')}: ${result.err}`);
        assert.match(result.err, message, args.join(' '));
      }
      const noDatabase = await nestOban(['queues'], { DATABASE_URL: '' });
      assert.equal(noDatabase.code, 2);
      assert.match(noDatabase.err, /no database: pass --database-url postgres:\/\/\.\.\. or set DATABASE_URL/);
    });
  });

  describe('migrate', () => {
    it('--print writes SQL that, run as it is, creates the current schema (and connects to nothing)', async () => {
      const target = new TestSchema('cli_print');
      try {
        const printed = await nestOban(['migrate', '--print', '--prefix', target.prefix], {
          DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
        });
        assert.equal(printed.code, 0, printed.err);
        assert.match(printed.out, new RegExp(`CREATE TABLE IF NOT EXISTS "${target.prefix}".oban_jobs`));
        assert.match(
          printed.out,
          new RegExp(`COMMENT ON TABLE "${target.prefix}".oban_jobs IS '${OBAN_SCHEMA_VERSION}'`),
        );
        const client = new Client({ connectionString: DATABASE_URL });
        await client.connect();
        try {
          await client.query(printed.out); // what a reviewer would apply with psql
          const rows = { query: async (sql: string, values?: unknown[]) => (await client.query(sql, values)).rows };
          assert.equal(await schemaVersion(rows, target.prefix), OBAN_SCHEMA_VERSION);
        } finally {
          await client.end();
        }
        const later = await nestOban(['migrate', '--print', '--from', String(OBAN_SCHEMA_VERSION - 1)]);
        assert.doesNotMatch(later.out, /-- version 1\n/);
        assert.match(later.out, new RegExp(`-- version ${OBAN_SCHEMA_VERSION}\\n`));
      } finally {
        await target.drop();
      }
    });

    it('applies the migrations, then has nothing to do', async () => {
      const first = await nestOban(['migrate', '--prefix', schema.prefix]);
      assert.equal(first.code, 0, first.err);
      assert.match(
        first.out,
        new RegExp(
          `schema '${schema.prefix}' on postgres://postgres@127\\.0\\.0\\.1:5432/test: migrated from version 0 to ${OBAN_SCHEMA_VERSION}`,
        ),
      );
      const again = await nestOban(['migrate', '--prefix', schema.prefix]);
      assert.equal(again.code, 0);
      assert.match(again.out, new RegExp(`is at version ${OBAN_SCHEMA_VERSION}: nothing to do`));
    });

    it('fails with the cause when the database cannot be reached', async () => {
      const result = await nestOban(['migrate', '--database-url', 'postgres://postgres@127.0.0.1:1/test']);
      assert.equal(result.code, 1);
      assert.match(result.err, /nest-oban migrate failed: .*ECONNREFUSED/);
    });
  });

  describe('start, queues and jobs', () => {
    let node: ChildProcess | undefined;
    let output = '';
    const nodeName = `cli-node-${process.pid}`;

    before(async () => {
      if ((await schema.count().catch(() => -1)) < 0) await schema.migrate();
    });
    after(() => {
      if (node?.exitCode === null) node.kill('SIGKILL');
    });

    it('start runs the module as a node with the queues and processes of its flags', async () => {
      node = spawn(
        process.execPath,
        [
          cli,
          'start',
          '--module',
          workerModule,
          '--export',
          'WorkerModule',
          '--queues',
          'default:3,heavy:2',
          '--processes',
          '1',
          '--node',
          nodeName,
        ],
        { cwd: build, env: { ...process.env, DATABASE_URL, CLI_PREFIX: schema.prefix, CLI_MARKER: marker() } },
      );
      node.stdout!.on('data', (d) => (output += d));
      node.stderr!.on('data', (d) => (output += d));
      await waitFor(
        'the node is running',
        () => /WorkerModule from .* is running/.test(output) || node!.exitCode !== null,
        {
          timeout: 60_000,
          interval: 100,
        },
      );
      assert.equal(node.exitCode, null, output);
      const [row] = await schema.query(`SELECT queues FROM "${schema.prefix}".oban_nodes WHERE node = $1`, [nodeName]);
      assert.deepEqual(row?.queues?.sort(), ['default', 'heavy'], 'the flags replaced the module’s queues');

      await schema.query(
        `INSERT INTO ${schema.jobs} (worker, queue, args) VALUES
           ('SleepWorker', 'default', '{"ms": 1}'), ('HashWorker', 'heavy', '{"text": "abc"}')`,
      );
      await waitFor('both jobs completed', async () => (await schema.count(`state = 'completed'`)) === 2, {
        timeout: 30_000,
      });
      const [hash] = await schema.query(`SELECT result FROM ${schema.jobs} WHERE worker = 'HashWorker'`);
      assert.equal(hash.result.digest, 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
      assert.notEqual(hash.result.pid, node.pid, 'the cpu job ran in a worker process of the node');
    });

    it('queues shows each queue with its live node and jobs by state; --json the same rows', async () => {
      await schema.query(
        `INSERT INTO ${schema.jobs} (worker, queue, args, state, attempt, errors, scheduled_at)
         VALUES ('SleepWorker', 'parked', '{}', 'retryable', 1,
                 ARRAY['{"attempt": 1, "at": "2026-01-01T00:00:00Z", "error": "Error: smtp timeout\\nat line"}'::jsonb],
                 now() + interval '1 hour')`,
      );
      const table = await nestOban(['queues', '--prefix', schema.prefix]);
      assert.equal(table.code, 0, table.err);
      const lines = table.out.trim().split('\n');
      assert.match(
        lines[0],
        /^queue\s+nodes\s+paused\s+limit\s+available\s+scheduled\s+executing\s+retryable\s+completed/,
      );
      assert.match(table.out, /\ndefault\s+1\s+-\s+-\s+0\s+0\s+0\s+0\s+1\s+0\s+0\n/);
      assert.match(table.out, /\nparked\s+0\s+-\s+-\s+0\s+0\s+0\s+1\s+0\s+0\s+0\n/);

      const json = await nestOban(['queues', '--prefix', schema.prefix, '--json']);
      const rows = JSON.parse(json.out) as Array<{ queue: string; nodes: number; completed: number }>;
      assert.deepEqual(
        rows.map((r) => [r.queue, r.nodes, r.completed]),
        [
          ['default', 1, 1],
          ['heavy', 1, 1],
          ['parked', 0, 0],
        ],
      );
    });

    it('jobs lists one state, filtered by queue, with the last error', async () => {
      const retryable = await nestOban(['jobs', '--state', 'retryable', '--prefix', schema.prefix]);
      assert.equal(retryable.code, 0, retryable.err);
      assert.match(retryable.out, /^id\s+state\s+queue\s+worker\s+attempt\s+scheduled_at\s+last_error\n/);
      assert.match(retryable.out, /\n\d+\s+retryable\s+parked\s+SleepWorker\s+1\/20\s+\S+Z\s+Error: smtp timeout\n$/);

      const completed = await nestOban([
        'jobs',
        '--state',
        'completed',
        '--queue',
        'heavy',
        '--json',
        '--prefix',
        schema.prefix,
      ]);
      const jobs = JSON.parse(completed.out) as Array<{ worker: string; queue: string; id: number }>;
      assert.deepEqual(
        jobs.map((j) => [j.worker, j.queue, typeof j.id]),
        [['HashWorker', 'heavy', 'number']],
      );
      const none = await nestOban(['jobs', '--state', 'discarded', '--prefix', schema.prefix]);
      assert.equal(none.out, '(none)\n');
    });

    it('SIGTERM ends start gracefully: the running job finishes, teardown hooks run, exit code 0', async () => {
      const [slow] = await schema.query<{ id: string }>(
        `INSERT INTO ${schema.jobs} (worker, queue, args) VALUES ('SleepWorker', 'default', '{"ms": 1500}') RETURNING id`,
      );
      await waitFor(
        'the slow job executing',
        async () => (await schema.count(`id = $1 AND state = 'executing'`, [slow.id])) === 1,
      );
      const exited = new Promise<number | null>((resolve) => node!.once('exit', (code) => resolve(code)));
      node!.kill('SIGTERM');
      assert.equal(await exited, 0, output);
      assert.match(output, /SIGTERM: stopping/);
      assert.match(output, /stopped/);
      assert.equal(await schema.count(`id = $1 AND state = 'completed'`, [slow.id]), 1, 'the running job finished');
      const teardown = readFileSync(marker(), 'utf8');
      assert.match(teardown, new RegExp(`main ${node!.pid} torn down`));
      assert.match(teardown, /hasher \d+ torn down/, 'the worker process ran its teardown too');
      const [gone] = await schema.query(
        `SELECT count(*)::int AS n FROM "${schema.prefix}".oban_nodes WHERE node = $1`,
        [nodeName],
      );
      assert.equal(gone.n, 0, 'the node left the cluster');
    });

    it('SIGINT (Ctrl-C) stops it too; a second SIGINT exits at once, without waiting for the running job', async () => {
      const second = spawn(
        process.execPath,
        [
          cli,
          'start',
          '--module',
          workerModule,
          '--export',
          'WorkerModule',
          '--queues',
          'default:1',
          '--processes',
          '0',
          '--grace',
          '60000',
        ],
        { cwd: build, env: { ...process.env, DATABASE_URL, CLI_PREFIX: schema.prefix, CLI_MARKER: marker() } },
      );
      let log = '';
      second.stdout.on('data', (d) => (log += d));
      second.stderr.on('data', (d) => (log += d));
      try {
        await waitFor('the second node is running', () => /is running/.test(log) || second.exitCode !== null, {
          timeout: 60_000,
          interval: 100,
        });
        const [long] = await schema.query<{ id: string }>(
          `INSERT INTO ${schema.jobs} (worker, queue, args) VALUES ('SleepWorker', 'default', '{"ms": 120000}') RETURNING id`,
        );
        await waitFor(
          'the long job executing',
          async () => (await schema.count(`id = $1 AND state = 'executing'`, [long.id])) === 1,
          {
            timeout: 20_000,
          },
        );
        const exited = new Promise<number | null>((resolve) => second.once('exit', (code) => resolve(code)));
        second.kill('SIGINT');
        await waitFor('stopping', () => /SIGINT: stopping/.test(log), { timeout: 10_000 });
        second.kill('SIGINT');
        assert.equal(await exited, 1, log);
        assert.match(log, /SIGINT again: exiting now, without waiting for running jobs/);
      } finally {
        if (second.exitCode === null) second.kill('SIGKILL');
      }
    });
  });
});
