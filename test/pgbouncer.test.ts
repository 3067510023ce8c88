import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { INestApplicationContext } from '@nestjs/common';
import { Client, Pool } from 'pg';
import { Oban, Worker, type Job, type ObanModuleOptions } from '../lib';
import { resolveConfig } from '../lib/config/config';
import { ObanHealthIndicator, ObanHealthModule } from '../lib/health';
import { ObanRuntime } from '../lib/oban.runtime';
import { createApp } from './support/app';
import { DATABASE_URL, TestSchema } from './support/db';
import { TestPgBouncer } from './support/pgbouncer';
import { waitFor } from './support/wait';

/** Fails its first attempt, then completes: a retry through the stager. */
@Worker({ queue: 'pgb', maxAttempts: 3, backoff: 0 })
class FlakyWorker {
  perform(job: Job<{ n: number }>) {
    if (job.attempt === 1) throw new Error(`first attempt of ${job.args.n} fails`);
    return { n: job.args.n, attempt: job.attempt };
  }
}

@Worker({ queue: 'pgb' })
class EchoWorker {
  perform(job: Job<{ n: number }>) {
    return { n: job.args.n };
  }
}

@Worker({ queue: 'wake' })
class WakeWorker {
  perform(job: Job<{ n: number }>) {
    return { n: job.args.n };
  }
}

const WORKERS = [FlakyWorker, EchoWorker, WakeWorker];
const CLUSTER = { heartbeatInterval: 200, leaderTtl: 1_000, nodeTtl: 2_000 };

/** Backend pids of PgBouncer's server connections (from its admin console). */
async function bouncerServerPids(bouncer: TestPgBouncer, schema: TestSchema): Promise<number[]> {
  const admin = new Client({ connectionString: bouncer.url('pgbouncer') });
  await admin.connect();
  try {
    const servers = (await admin.query('SHOW SERVERS')).rows as Array<{ local_port?: string; port: string }>;
    const ports = servers.map((s) => Number(s.local_port));
    if (ports.length === 0) return [];
    const rows = await schema.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE client_addr = '127.0.0.1' AND client_port = ANY($1::int[])`,
      [ports],
    );
    return rows.map((r) => r.pid);
  } finally {
    await admin.end();
  }
}

async function advisoryLocksOf(schema: TestSchema, pids: number[]): Promise<number> {
  const [row] = await schema.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = ANY($1::int[])`,
    [pids],
  );
  return row.n;
}

describe('PgBouncer in transaction mode', () => {
  let bouncer: TestPgBouncer;
  before(async () => {
    bouncer = await TestPgBouncer.start();
  });
  after(async () => {
    await bouncer?.stop();
  });

  it('is a real transaction pooler: named prepared statements and a statement_timeout at connect break there', async () => {
    // What nest-oban did on every statement before `pooler`: this is the failure the option avoids.
    const pool = new Pool({ connectionString: bouncer.url(), max: 6 });
    const errors = new Set<string>();
    await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        await pool
          .query({ name: `s${i % 3}`, text: `SELECT $1::int + ${i % 3} AS v`, values: [i] })
          .catch((error: Error) => errors.add(error.message.replace(/"s\d"/, '"s"')));
      }),
    );
    await pool.end();
    assert.ok(
      [...errors].some((m) => /prepared statement "s" (already exists|does not exist)/.test(m)),
      `named statements fail through the pooler: ${[...errors].join('; ')}`,
    );

    const schema = new TestSchema('pgbouncer_default');
    try {
      await assert.rejects(
        createApp({
          oban: { connection: bouncer.url(), prefix: schema.prefix, migrate: true, queues: {} },
          logger: [],
        }),
        /unsupported startup parameter: statement_timeout/,
      );
    } finally {
      await schema.drop();
    }
  });

  for (const mode of ['LISTEN on the direct connection', 'poll only'] as const) {
    describe(`pooler: 'transaction', ${mode}`, () => {
      const schema = new TestSchema(mode === 'poll only' ? 'pgbouncer_poll' : 'pgbouncer_direct');
      const direct = mode !== 'poll only';
      let app: INestApplicationContext;
      let oban: Oban;
      let logged: string[] = [];
      const options = (): ObanModuleOptions => ({
        connection: bouncer.url(),
        pooler: 'transaction',
        ...(direct ? { directConnection: DATABASE_URL } : {}),
        prefix: schema.prefix,
        migrate: true, // through the pooler: a transaction's lock per version
        queues: { pgb: 5 },
        stageInterval: 200,
        reconcileInterval: 500,
        ...CLUSTER,
      });
      before(async () => {
        const logger = {
          log: (m: string) => logged.push(m),
          warn: (m: string) => logged.push(m),
          error: (m: string) => logged.push(m),
        };
        app = await createApp({ oban: { ...options(), logger }, providers: WORKERS, imports: [ObanHealthModule] });
        oban = app.get(Oban);
      });
      after(async () => {
        await app?.close();
        await schema.drop();
      });

      it('migrated through the pooler and boots; LISTEN as the mode says', async () => {
        const health = app.get(ObanRuntime).health();
        assert.equal(health.listening, direct);
        assert.equal(health.pollOnly, !direct);
        // Polling by design is healthy: the notifier check is up either way, and says which.
        const notifier = (await app.get(ObanHealthIndicator).checkNotifier('n')).n;
        assert.deepEqual(
          notifier,
          direct ? { status: 'up', listening: true } : { status: 'up', listening: false, pollOnly: true },
        );
        if (!direct)
          assert.ok(
            logged.some((m) => /no LISTEN, queues are woken by the poll only/.test(m)),
            logged.join('\n'),
          );
        const [{ n }] = await schema.query(
          `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1 AND tablename = 'oban_jobs'`,
          [schema.prefix],
        );
        assert.equal(n, 1);
      });

      it('inserts, runs and completes jobs', async () => {
        const jobs = await Promise.all(Array.from({ length: 20 }, (_, n) => oban.insert(EchoWorker, { n })));
        await waitFor('20 jobs completed', async () => (await schema.count(`state = 'completed'`)) === 20);
        const done = await oban.getJob(jobs[7].id);
        assert.deepEqual(done?.result, { n: 7 });
        assert.equal(done?.attemptedBy?.[0], app.get(ObanRuntime).health().node);
      });

      it('retries a failed job: retryable, staged, completed on its second attempt', async () => {
        const job = await oban.insert(FlakyWorker, { n: 1 });
        await waitFor('the retry completed', async () => (await oban.getJob(job.id))?.state === 'completed');
        const done = (await oban.getJob(job.id))!;
        assert.equal(done.attempt, 2);
        assert.match(done.errors[0].error, /first attempt of 1 fails/);
      });

      it('the stager makes a scheduled job available when due', async () => {
        const job = await oban.insert(EchoWorker, { n: 99 }, { scheduleIn: 0.5 });
        assert.equal(job.state, 'scheduled');
        await waitFor('the scheduled job ran', async () => (await oban.getJob(job.id))?.state === 'completed');
      });

      it('becomes leader, and its lifeline rescues a job left executing by a dead node', async () => {
        await waitFor('this node leads', () => app.get(ObanRuntime).isLeader, { timeout: 15_000 });
        const [orphan] = await schema.query<{ id: string }>(
          `INSERT INTO ${schema.jobs} (worker, queue, args, state, attempt, max_attempts, attempted_at, attempted_by)
           VALUES ('EchoWorker', 'parked', '{}', 'executing', 1, 3, now(), ARRAY['ghost-node']) RETURNING id`,
        );
        await waitFor('the orphan rescued', async () => (await oban.getJob(Number(orphan.id)))?.state === 'available', {
          timeout: 20_000,
          interval: 100,
        });
        const rescued = (await oban.getJob(Number(orphan.id)))!;
        assert.match(JSON.stringify(rescued.errors), /NodeDiedError: node ghost-node stopped heartbeating/);
      });

      it('leaves no advisory lock on the pooler’s server connections; the name lock is on the direct one', async () => {
        const pids = await bouncerServerPids(bouncer, schema);
        assert.ok(pids.length > 0, 'the pooler has server connections');
        assert.equal(await advisoryLocksOf(schema, pids), 0);
        const [{ n }] = await schema.query(
          `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a USING (pid)
           WHERE l.locktype = 'advisory' AND a.application_name = 'nest-oban heartbeat' AND NOT (a.pid = ANY($1::int[]))
             AND l.objid::bigint = (hashtextextended('nest-oban:' || $2 || ':' || $3, 0) & 4294967295)`,
          [pids, schema.prefix, app.get(ObanRuntime).health().node],
        );
        assert.equal(
          n,
          direct ? 1 : 0,
          direct ? 'the heartbeat holds the name on the direct connection' : 'no name lock',
        );
      });

      it(
        direct ? 'a NOTIFY reaches the node at once (the poll is a minute away)' : 'the poll alone wakes a second node',
        async () => {
          // A second node running `wake` only. Direct: its poll is 60 s away, so a run within 10 s came from NOTIFY.
          const second = await createApp({
            oban: { ...options(), migrate: false, queues: { wake: 2 }, stageInterval: direct ? 60_000 : 200 },
            providers: WORKERS,
          });
          try {
            const job = await oban.insert(WakeWorker, { n: 5 });
            await waitFor('the wake job ran', async () => (await oban.getJob(job.id))?.state === 'completed', {
              timeout: 10_000,
            });
            assert.equal((await oban.getJob(job.id))?.attemptedBy?.[0], second.get(ObanRuntime).health().node);
          } finally {
            await second.close();
          }
        },
      );
    });
  }
});

describe('pooler options', () => {
  const base = { connection: DATABASE_URL };
  it('names the option it refuses', () => {
    assert.throws(
      () => resolveConfig({ ...base, pooler: 'statement' as any }),
      /pooler must be 'none' or 'transaction'/,
    );
    assert.throws(
      () => resolveConfig({ ...base, directConnection: DATABASE_URL }),
      /directConnection is only used with pooler: 'transaction'/,
    );
    assert.throws(
      () => resolveConfig({ ...base, pooler: 'transaction', directConnection: 'localhost:5432' }),
      /directConnection must be a postgres:\/\/ URL/,
    );
    assert.throws(() => resolveConfig({ pooler: 'transaction' }), /pooler: 'transaction' needs a Postgres connection/);
  });

  it('is off by default and resolves when set', () => {
    assert.equal(resolveConfig(base).pooler, undefined);
    assert.deepEqual(resolveConfig({ ...base, pooler: 'transaction' }).pooler, { direct: undefined });
    assert.deepEqual(resolveConfig({ ...base, pooler: 'transaction', directConnection: DATABASE_URL }).pooler, {
      direct: DATABASE_URL,
    });
  });
});
