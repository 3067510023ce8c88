import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { type INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Registry, register } from 'prom-client';
import { Oban, ObanModule, type ObanModuleOptions } from '../lib';
import { buildClusterStatements } from '../lib/db/cluster-statements';
import type { Statement } from '../lib/db/database';
import { PgDatabase } from '../lib/db/pg-database';
import { ObanMetrics, ObanMetricsModule } from '../lib/metrics';
import { ClusterStore } from '../lib/store/cluster-store';
import {
  BlockWorker,
  CpuWorker,
  FailWorker,
  MetricsAppModule,
  OkWorker,
  gate,
  metricsAppOptions,
} from './fixtures/metrics/metrics-app.module';
import { DATABASE_URL, TestSchema } from './support/db';
import { waitFor } from './support/wait';
import { assertLoadsWithout, assertOptionalEntry } from './support/optional-peer';

const TIMINGS = { heartbeatInterval: 200, leaderTtl: 1_000, nodeTtl: 2_000, stageInterval: 100 };
const apps: INestApplication[] = [];

after(async () => {
  for (const app of apps.splice(0).reverse()) await app.close().catch(() => undefined);
});

/** Boots the fixture app (the sample's MetricsModule inside, on the global registry) and serves HTTP. */
async function bootFixture(options: ObanModuleOptions) {
  metricsAppOptions.current = { migrate: true, processes: 0, ...TIMINGS, ...options };
  const app = await NestFactory.create(MetricsAppModule, { logger: ['error'], abortOnError: false });
  apps.push(app);
  await app.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  return { app, oban: app.get(Oban), metrics: app.get(ObanMetrics), base };
}

/** Boots a node with ObanMetricsModule.forRoot(metrics), without HTTP. */
async function bootNode(
  options: ObanModuleOptions,
  metrics: Parameters<typeof ObanMetricsModule.forRoot>[0],
  logger: false | Array<'error'> = ['error'],
) {
  @Module({
    imports: [
      ObanModule.forRoot({ migrate: true, processes: 0, ...TIMINGS, ...options }),
      ObanMetricsModule.forRoot(metrics),
    ],
    providers: [OkWorker],
  })
  class NodeModule {}
  const app = await NestFactory.create(NodeModule, { logger, abortOnError: false });
  apps.push(app);
  await app.init();
  return { app, oban: app.get(Oban), metrics: app.get(ObanMetrics) };
}

async function close(app: INestApplication): Promise<void> {
  apps.splice(apps.indexOf(app), 1);
  await app.close();
}

type Labels = Record<string, string | number>;
/** The values of metric `name` (a histogram's series by `metricName`) on `registry`. */
async function series(
  registry: Registry,
  name: string,
  metricName = name,
): Promise<Array<{ labels: Labels; value: number }>> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  assert.ok(metric, `${name} is registered`);
  return (metric.values as Array<{ labels: Labels; value: number; metricName?: string }>).filter(
    (v) => (v.metricName ?? name) === metricName,
  );
}
async function valueOf(
  registry: Registry,
  name: string,
  labels: Labels,
  metricName = name,
): Promise<number | undefined> {
  const values = await series(registry, name, metricName);
  const same = (l: Labels) =>
    Object.keys(labels).length === Object.keys(l).length &&
    Object.entries(labels).every(([k, v]) => String(l[k]) === String(v));
  return values.find((v) => same(v.labels))?.value;
}

describe('metrics: counters, histograms and node gauges (real worker process, global registry)', () => {
  const schema = new TestSchema('metrics');
  let node: Awaited<ReturnType<typeof bootFixture>>;
  before(async () => {
    node = await bootFixture({
      connection: DATABASE_URL,
      prefix: schema.prefix,
      queues: { main: 3, cpu: 1 },
      processes: 1,
    });
  });
  after(async () => {
    gate.release();
    if (node) await close(node.app);
    await schema.drop();
  });

  it('counts finished jobs by queue, worker and state, with their durations and queue times', async () => {
    await node.oban.insert(OkWorker, { ms: 60 });
    await node.oban.insert(OkWorker, { ms: 60 });
    await node.oban.insert(OkWorker, {}, { scheduledAt: new Date(Date.now() - 20_000) });
    await node.oban.insert(FailWorker, {});
    const cpu = await node.oban.insert(CpuWorker, {});
    await waitFor(
      'every job to finish',
      async () => (await schema.count(`state IN ('completed', 'discarded')`)) === 5,
      {
        timeout: 30_000,
      },
    );
    await waitFor(
      'the last job.stop',
      async () =>
        (await valueOf(register, 'oban_jobs_total', { queue: 'cpu', worker: 'CpuWorker', state: 'completed' })) === 1,
    );

    const [cpuRow] = await schema.query(`SELECT result FROM ${schema.jobs} WHERE id = $1`, [cpu.id]);
    assert.notEqual(cpuRow.result.pid, process.pid, 'the cpu job ran in a worker process');
    assert.equal(
      await valueOf(register, 'oban_jobs_total', { queue: 'main', worker: 'OkWorker', state: 'completed' }),
      3,
    );
    assert.equal(
      await valueOf(register, 'oban_jobs_total', { queue: 'main', worker: 'FailWorker', state: 'discard' }),
      1,
    );
    assert.equal((await series(register, 'oban_jobs_total')).length, 3);

    const durationLabels = { queue: 'main', worker: 'OkWorker', state: 'completed' };
    assert.equal(
      await valueOf(register, 'oban_job_duration_seconds', durationLabels, 'oban_job_duration_seconds_count'),
      3,
    );
    const sum = (await valueOf(
      register,
      'oban_job_duration_seconds',
      durationLabels,
      'oban_job_duration_seconds_sum',
    ))!;
    assert.ok(sum >= 0.11 && sum < 5, `two 60 ms jobs and one instant: ${sum} s`);
    assert.equal(
      await valueOf(
        register,
        'oban_job_duration_seconds',
        { queue: 'cpu', worker: 'CpuWorker', state: 'completed' },
        'oban_job_duration_seconds_count',
      ),
      1,
    );
    const queueLabels = { queue: 'main', worker: 'OkWorker' };
    assert.equal(
      await valueOf(register, 'oban_job_queue_time_seconds', queueLabels, 'oban_job_queue_time_seconds_count'),
      3,
    );
    const under10 = await valueOf(
      register,
      'oban_job_queue_time_seconds',
      { ...queueLabels, le: 10 },
      'oban_job_queue_time_seconds_bucket',
    );
    const under30 = await valueOf(
      register,
      'oban_job_queue_time_seconds',
      { ...queueLabels, le: 30 },
      'oban_job_queue_time_seconds_bucket',
    );
    assert.deepEqual([under10, under30], [2, 3], 'the job due 20 s ago waited 20 s');
  });

  it('reports executing per queue, queue limits and worker processes at scrape time', async () => {
    gate.started = false;
    await node.oban.insert(BlockWorker, {});
    await waitFor('the blocking job to start', () => gate.started);
    assert.equal(await valueOf(register, 'oban_executing', { queue: 'main' }), 1);
    assert.equal(await valueOf(register, 'oban_executing', { queue: 'cpu' }), 0);
    assert.equal(await valueOf(register, 'oban_queue_limit', { queue: 'main' }), 3);
    assert.equal(await valueOf(register, 'oban_queue_limit', { queue: 'cpu' }), 1);
    assert.equal(await valueOf(register, 'oban_pool_processes', { state: 'ready' }), 1);
    assert.equal(await valueOf(register, 'oban_pool_processes', { state: 'starting' }), 0);
    await node.oban.scaleQueue('main', 5);
    await waitFor('the new limit', async () => (await valueOf(register, 'oban_queue_limit', { queue: 'main' })) === 5);
    gate.release();
    await waitFor(
      'nothing executing',
      async () => (await valueOf(register, 'oban_executing', { queue: 'main' })) === 0,
    );
  });

  it('the leader computes jobs by queue and state, exactly on a small table', async () => {
    await waitFor('the node to lead', () => node.oban.isLeader());
    await node.metrics.refreshStates();
    assert.equal(node.metrics.lastEstimated, false);
    const exact = await schema.query(`SELECT queue, state::text, count(*)::int AS n FROM ${schema.jobs} GROUP BY 1, 2`);
    const gauge = await series(register, 'oban_jobs');
    assert.deepEqual(
      gauge.map((v) => `${v.labels.queue}/${v.labels.state}=${v.value}`).sort(),
      exact.map((r) => `${r.queue}/${r.state}=${r.n}`).sort(),
    );
    assert.ok(exact.length >= 3);
  });

  it('labels stay bounded: queue, worker and state only, never a job id or args', async () => {
    const rows = await schema.query(`SELECT id::text, args::text FROM ${schema.jobs}`);
    const ids = rows.map((r) => r.id as string);
    assert.ok(
      rows.some((r) => r.args.includes('"ms"')),
      'some job has args to leak',
    );
    const allowed = new Set(['queue', 'worker', 'state', 'le']);
    const ours = (await register.getMetricsAsJSON()).filter((m) => m.name.startsWith('oban_'));
    assert.equal(ours.length, 7);
    for (const metric of ours) {
      for (const v of metric.values as Array<{ labels: Labels }>) {
        for (const [label, value] of Object.entries(v.labels)) {
          assert.ok(allowed.has(label), `${metric.name} has label ${label}`);
          if (label !== 'le') assert.ok(!ids.includes(String(value)), `${metric.name}{${label}=${value}} is a job id`);
          assert.doesNotMatch(String(value), /[{}]/, `${metric.name}{${label}=${value}} looks like args (JSON)`);
        }
      }
    }
  });

  it("the sample's GET /metrics answers in Prometheus text format", async () => {
    const response = await fetch(`${node.base}/metrics`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    assert.match(text, /^# HELP oban_jobs_total /m);
    assert.match(text, /^# TYPE oban_jobs_total counter$/m);
    assert.match(text, /^oban_jobs_total\{queue="main",worker="OkWorker",state="completed"\} 3$/m);
    assert.match(text, /^# TYPE oban_job_duration_seconds histogram$/m);
    assert.match(text, /^oban_queue_limit\{queue="cpu"\} 1$/m);
    assert.match(text, /^oban_pool_processes\{state="ready"\} 1$/m);
  });
});

describe('metrics: registry and prefix options, leader only', () => {
  const schema = new TestSchema('metrics_opts');
  after(() => schema.drop());

  it('registers on the given registry with the given prefix, not the global one, and unregisters at close', async () => {
    const registry = new Registry();
    const a = await bootNode(
      { connection: DATABASE_URL, prefix: schema.prefix, queues: { main: 2 } },
      { registry, prefix: 'app_oban_', stateInterval: 100 },
    );
    assert.deepEqual((await registry.getMetricsAsJSON()).map((m) => m.name).sort(), [
      'app_oban_executing',
      'app_oban_job_duration_seconds',
      'app_oban_job_queue_time_seconds',
      'app_oban_jobs',
      'app_oban_jobs_total',
      'app_oban_pool_processes',
      'app_oban_queue_limit',
    ]);
    assert.equal(register.getSingleMetric('oban_jobs_total'), undefined);
    assert.equal(register.getSingleMetric('app_oban_jobs_total'), undefined);
    await a.oban.insert(OkWorker, {});
    await waitFor(
      'the job counted',
      async () =>
        (await valueOf(registry, 'app_oban_jobs_total', { queue: 'main', worker: 'OkWorker', state: 'completed' })) ===
        1,
    );
    // stateInterval: the leader fills the gauge on its own.
    await waitFor('the node to lead', () => a.oban.isLeader());
    await waitFor(
      'the interval to count the job',
      async () => (await valueOf(registry, 'app_oban_jobs', { queue: 'main', state: 'completed' })) === 1,
    );

    // A second node of the cluster, not leading: its jobs gauge stays empty.
    const otherRegistry = new Registry();
    const b = await bootNode(
      { connection: DATABASE_URL, prefix: schema.prefix, queues: { main: 2 }, node: 'metrics-b' },
      { registry: otherRegistry, stateInterval: 100 },
    );
    assert.equal(b.oban.isLeader(), false);
    await b.metrics.refreshStates();
    assert.equal(b.metrics.lastEstimated, null);
    assert.deepEqual(await series(otherRegistry, 'oban_jobs'), []);
    assert.equal(await valueOf(otherRegistry, 'oban_queue_limit', { queue: 'main' }), 2);

    await close(a.app);
    assert.deepEqual(await registry.getMetricsAsJSON(), []);
    await close(b.app);
  });

  it('without a registry, uses the global one', async () => {
    const a = await bootNode({ connection: DATABASE_URL, prefix: schema.prefix, queues: { main: 2 } }, {});
    assert.ok(register.getSingleMetric('oban_jobs_total'));
    assert.equal(a.metrics.registry, register);
    await close(a.app);
    assert.equal(register.getSingleMetric('oban_jobs_total'), undefined);
  });

  it('rejects bad options', async () => {
    for (const bad of [{ stateInterval: 0 }, { estimateAbove: -1 }, { prefix: 'bad-prefix' }]) {
      await assert.rejects(
        bootNode({ connection: DATABASE_URL, prefix: schema.prefix, queues: { main: 1 } }, bad as any, false),
        /ObanMetricsModule/,
      );
      for (const app of apps.splice(0)) await app.close().catch(() => undefined);
    }
  });
});

describe('metrics: the jobs gauge on a large table (200,000 rows)', () => {
  const schema = new TestSchema('metrics_big');
  const statements: Array<{ statement: Statement | string; params?: unknown[] }> = [];
  let db: PgDatabase;
  let store: ClusterStore;
  const actual = new Map<string, number>();
  before(async () => {
    await schema.migrate();
    await schema.query(`
      INSERT INTO ${schema.jobs} (state, queue, worker, args, scheduled_at)
      SELECT CASE WHEN i % 10 < 6 THEN 'completed' WHEN i % 10 < 9 THEN 'available' ELSE 'discarded' END::"${schema.prefix}".oban_job_state,
             CASE WHEN i % 4 = 0 THEN 'mail' ELSE 'reports' END, 'BigWorker', '{}', now()
      FROM generate_series(1, 200000) AS i`);
    await schema.query(`ANALYZE ${schema.jobs}`);
    for (const r of await schema.query(
      `SELECT queue, state::text, count(*)::int AS n FROM ${schema.jobs} GROUP BY 1, 2`,
    )) {
      actual.set(`${r.queue}/${r.state}`, r.n);
    }
    db = PgDatabase.fromUrl(DATABASE_URL, 2);
    // Every statement the store sends, to explain afterwards.
    const query = db.query.bind(db);
    db.query = ((statement: Statement | string, params?: unknown[]) => {
      statements.push({ statement, params });
      return query(statement as any, params as any);
    }) as typeof db.query;
    store = new ClusterStore(db, buildClusterStatements(schema.prefix));
  });
  after(async () => {
    await db?.close();
    await schema.drop();
  });

  it('above estimateAbove: planner estimates, close to the counts, and no statement scans oban_jobs', async () => {
    statements.length = 0;
    const { estimated, total, counts } = await store.jobCounts(100_000);
    assert.equal(estimated, true);
    assert.ok(Math.abs(total - 200_000) < 20_000, `total estimated at ${total}`);
    const byState = new Map<string, number>();
    for (const c of counts) byState.set(c.state, (byState.get(c.state) ?? 0) + c.count);
    for (const [state, n] of [
      ['completed', 120_000],
      ['available', 60_000],
      ['discarded', 20_000],
    ] as const) {
      const got = byState.get(state) ?? 0;
      assert.ok(Math.abs(got - n) < n * 0.15, `${state}: estimated ${got}, actual ${n}`);
    }
    const mailCompleted = counts.find((c) => c.queue === 'mail' && c.state === 'completed')!.count;
    assert.ok(
      Math.abs(mailCompleted - actual.get('mail/completed')!) < 10_000,
      `mail/completed estimated ${mailCompleted}`,
    );
    assert.deepEqual([...new Set(counts.map((c) => c.queue))].sort(), ['mail', 'reports']);

    // Each statement sent was an EXPLAIN (planned, never run) or reads no job row: explain those to be sure.
    assert.ok(statements.length >= 2);
    for (const { statement, params } of statements) {
      const text = typeof statement === 'string' ? statement : statement.text;
      if (/^EXPLAIN \(FORMAT JSON\) /.test(text)) {
        assert.doesNotMatch(text, /ANALYZE/);
        continue;
      }
      const [plan] = await schema.query(`EXPLAIN (FORMAT JSON) ${text}`, params);
      const scans = JSON.stringify(plan).match(/"Relation Name":"oban_jobs"/g) ?? [];
      assert.deepEqual(scans, [], `${text} reads oban_jobs`);
    }
  });

  it('at or under estimateAbove: exact counts (one GROUP BY)', async () => {
    const { estimated, counts } = await store.jobCounts(1_000_000);
    assert.equal(estimated, false);
    assert.deepEqual(new Map(counts.map((c) => [`${c.queue}/${c.state}`, c.count])), actual);
  });

  it('a leading node with estimateAbove below the table reports the estimates', async () => {
    const registry = new Registry();
    const a = await bootNode(
      { connection: DATABASE_URL, prefix: schema.prefix, queues: { mail: 1 } },
      { registry, estimateAbove: 50_000 },
    );
    await a.oban.pauseQueue('mail'); // the available rows are not for running here
    await waitFor('the node to lead', () => a.oban.isLeader());
    await a.metrics.refreshStates();
    assert.equal(a.metrics.lastEstimated, true);
    const completed = (await series(registry, 'oban_jobs')).filter((v) => v.labels.state === 'completed');
    const total = completed.reduce((n, v) => n + v.value, 0);
    assert.ok(Math.abs(total - 120_000) < 18_000, `completed estimated at ${total}`);
    await close(a.app);
  });
});

describe('metrics: packaging', () => {
  it('is nest-oban/metrics, an optional peer; the main entry loads without prom-client', () => {
    assertOptionalEntry('./metrics', 'prom-client');
    assertLoadsWithout('prom-client', './lib/metrics');
  });
});
