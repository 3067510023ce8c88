import 'reflect-metadata';
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Global, type INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type SpanContext, SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { type Job, Oban, ObanModule, type ObanModuleOptions } from '../lib';
import { ObanHooks, formatTraceparent, parseTraceparent } from '../lib/events/hooks';
import { ObanTracingModule } from '../lib/tracing';
import { OBAN_CLOCK, type Clock } from '../lib/util/clock';
import { createApp } from './support/app';
import { DATABASE_URL, TestSchema } from './support/db';
import { waitFor } from './support/wait';
import type { FileSpan } from './fixtures/tracing/span-file';
import {
  CpuTracedWorker,
  TracedWorker,
  TracingAppModule,
  TracingWorkersModule,
  tracingOptions,
} from './fixtures/tracing/tracing-app.module';
import { assertLoadsWithout, assertOptionalEntry, runWithout } from './support/optional-peer';

// The test process's SDK: every finished span lands in `exporter`.
const exporter = new InMemorySpanExporter();
const tracer = trace.getTracer('tracing-test');

before(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
});

after(() => {
  trace.disable();
  context.disable();
});

const spans = (name?: string) => exporter.getFinishedSpans().filter((s) => name === undefined || s.name === name);

/** The consumer spans of job `id`, one per attempt, once `count` have ended. */
const consumerSpans = (id: number, count = 1) =>
  waitFor(`${count} consumer span(s) of job ${id}`, () => {
    const found = spans().filter(
      (s) => s.kind === SpanKind.CONSUMER && s.attributes['messaging.message.id'] === `${id}`,
    );
    return found.length >= count ? found : null;
  });

const settled = (oban: Oban, id: number) =>
  waitFor(`job ${id} to finish`, async () => {
    const job = await oban.getJob(id);
    return job && ['completed', 'discarded'].includes(job.state) ? job : null;
  });

function assertChildOf(child: ReadableSpan | FileSpan, parent: { spanContext(): SpanContext }, what: string) {
  const childContext = 'spanContext' in child ? child.spanContext() : child;
  const parentId = 'spanContext' in child ? child.parentSpanContext?.spanId : child.parentSpanId;
  assert.equal(childContext.traceId, parent.spanContext().traceId, `${what}: same trace`);
  assert.equal(parentId, parent.spanContext().spanId, `${what}: parent`);
}

describe('tracing: producer and consumer spans', () => {
  const schema = new TestSchema('tracing');
  let app: INestApplicationContext | undefined;
  let oban: Oban;
  let runs = 0;

  async function boot(options: ObanModuleOptions = {}) {
    tracingOptions.current = {
      connection: DATABASE_URL,
      prefix: schema.prefix,
      migrate: true,
      stageInterval: 100,
      processes: 0,
      queues: { traced: 5 },
      node: `tracing-${++runs}`,
      ...options,
    };
    app = await NestFactory.createApplicationContext(TracingAppModule, { logger: ['error'] });
    oban = app.get(Oban);
  }

  afterEach(async () => {
    await app?.close();
    app = undefined;
    exporter.reset();
  });
  after(() => schema.drop());

  it('insert starts a PRODUCER span whose context is stored in the job meta; the attempt continues it', async () => {
    await boot();
    // The caller's own span (a request, say): the producer span is its child.
    const request = tracer.startSpan('request');
    const job = await context.with(trace.setSpan(context.active(), request), () =>
      oban.insert(TracedWorker, {}, { meta: { mine: 1 } }),
    );
    request.end();

    const [producer] = spans('send traced');
    assert.ok(producer, 'a producer span');
    assert.equal(producer.kind, SpanKind.PRODUCER);
    assertChildOf(producer, request, 'producer');
    assert.deepEqual(
      {
        system: producer.attributes['messaging.system'],
        operation: producer.attributes['messaging.operation.type'],
        name: producer.attributes['messaging.operation.name'],
        destination: producer.attributes['messaging.destination.name'],
        id: producer.attributes['messaging.message.id'],
        worker: producer.attributes['nest-oban.job.worker'],
      },
      {
        system: 'nest-oban',
        operation: 'send',
        name: 'insert',
        destination: 'traced',
        id: `${job.id}`,
        worker: 'TracedWorker',
      },
    );
    assert.equal(producer.instrumentationScope.name, 'nest-oban-test');

    // The row holds the producer's W3C context beside the caller's own meta.
    assert.equal(job.meta.mine, 1);
    assert.equal(job.meta.traceparent, formatTraceparent(producer.spanContext()));
    const [row] = await schema.query(`SELECT meta FROM ${schema.jobs} WHERE id = $1`, [job.id]);
    assert.equal(row.meta.traceparent, job.meta.traceparent);

    const done = await settled(oban, job.id);
    assert.equal(done.state, 'completed');
    const [consumer] = await consumerSpans(job.id);
    assert.equal(consumer.name, 'process traced');
    assertChildOf(consumer, producer, 'consumer');
    assert.equal(consumer.status.code, SpanStatusCode.UNSET);
    assert.deepEqual(
      {
        system: consumer.attributes['messaging.system'],
        operation: consumer.attributes['messaging.operation.type'],
        destination: consumer.attributes['messaging.destination.name'],
        worker: consumer.attributes['nest-oban.job.worker'],
        attempt: consumer.attributes['nest-oban.job.attempt'],
        outcome: consumer.attributes['nest-oban.job.outcome'],
      },
      {
        system: 'nest-oban',
        operation: 'process',
        destination: 'traced',
        worker: 'TracedWorker',
        attempt: 1,
        outcome: 'completed',
      },
    );

    // The consumer span is active while perform runs: what perform starts is its child.
    assert.equal((done.result as { active: string }).active, consumer.spanContext().spanId);
    const inside = spans('inside perform');
    assert.equal(inside.length, 1);
    assertChildOf(inside[0], consumer, 'span started in perform');
  });

  it('a failed attempt sets status ERROR with the error; each attempt has its own consumer span', async () => {
    await boot();
    const job = await oban.insert(TracedWorker, { fail: true });
    const done = await settled(oban, job.id);
    assert.equal(done.state, 'discarded');
    assert.equal(done.attempt, 2);
    const [producer] = spans('send traced');
    const attempts = (await consumerSpans(job.id, 2)).sort(
      (a, b) => Number(a.attributes['nest-oban.job.attempt']) - Number(b.attributes['nest-oban.job.attempt']),
    );
    assert.deepEqual(
      attempts.map((s) => s.attributes['nest-oban.job.attempt']),
      [1, 2],
    );
    for (const span of attempts) {
      assertChildOf(span, producer, `attempt ${span.attributes['nest-oban.job.attempt']}`);
      assert.equal(span.status.code, SpanStatusCode.ERROR);
      assert.match(span.status.message ?? '', /traced failure/);
      const exception = span.events.find((e) => e.name === 'exception');
      assert.ok(exception, 'the error is recorded as an exception event');
      assert.match(String(exception.attributes?.['exception.message']), /traced failure/);
    }
    assert.deepEqual(
      attempts.map((s) => s.attributes['nest-oban.job.outcome']),
      ['failed', 'failed'],
    );
  });

  it('insertAll makes one PRODUCER span for the batch; every job carries its context', async () => {
    await boot();
    const jobs = await oban.insertAll([
      { worker: TracedWorker, args: {} },
      { worker: TracedWorker, args: {} },
      { worker: TracedWorker, args: {} },
    ]);
    const producers = spans().filter((s) => s.kind === SpanKind.PRODUCER);
    assert.equal(producers.length, 1);
    const [producer] = producers;
    assert.equal(producer.name, 'send traced');
    assert.equal(producer.attributes['messaging.operation.name'], 'insertAll');
    assert.equal(producer.attributes['messaging.batch.message_count'], 3);
    assert.equal(producer.attributes['messaging.message.id'], undefined);
    const traceparent = formatTraceparent(producer.spanContext());
    assert.deepEqual(
      jobs.map((j) => j.meta.traceparent),
      [traceparent, traceparent, traceparent],
    );
    for (const job of jobs) {
      await settled(oban, job.id);
      assertChildOf((await consumerSpans(job.id))[0], producer, `job ${job.id}`);
    }
  });

  it('a workflow, a batch and addToBatch each make one PRODUCER span; every job written carries its context', async () => {
    await boot();
    const workflow = await oban
      .workflow()
      .add('a', TracedWorker, {})
      .add('b', TracedWorker, {}, { deps: ['a'] })
      .insert();
    const batch = await oban.batch().add(TracedWorker, {}).add(TracedWorker, {}).insert();
    const grown = await oban.addToBatch(batch.id, [{ worker: TracedWorker, args: {} }]);
    const producers = spans().filter((s) => s.kind === SpanKind.PRODUCER);
    assert.deepEqual(
      producers.map((p) => [p.attributes['messaging.operation.name'], p.attributes['messaging.batch.message_count']]),
      [
        ['workflow', 2],
        ['batch', 2],
        ['batch', 1],
      ],
    );
    const written = [Object.values(workflow.jobs), batch.jobs, grown];
    written.forEach((jobs, i) => {
      const traceparent = formatTraceparent(producers[i].spanContext());
      for (const job of jobs) assert.equal(job.meta.traceparent, traceparent, `job ${job.id} of call ${i}`);
    });
    for (const job of Object.values(workflow.jobs)) {
      const stored = await settled(oban, job.id);
      assert.equal(stored.meta.traceparent, formatTraceparent(producers[0].spanContext()), 'stored in the row');
    }
  });

  it('a failed insert ends its producer span with status ERROR', async () => {
    await boot();
    await assert.rejects(oban.insert(TracedWorker, 'not an object' as never));
    // Validation fails before the hook: no span for an insert that never reached the database.
    assert.equal(spans().filter((s) => s.kind === SpanKind.PRODUCER).length, 0);
    // The write fails (here the caller's transaction refuses it): the span records the error.
    const manager = { query: () => Promise.reject(new Error('the transaction was aborted')) };
    await assert.rejects(oban.insert(TracedWorker, {}, { manager: manager as never }), /the transaction was aborted/);
    const [failed] = spans('send traced');
    assert.ok(failed, 'a producer span for the refused insert');
    assert.equal(failed.status.code, SpanStatusCode.ERROR);
    assert.match(failed.status.message ?? '', /the transaction was aborted/);
  });
});

describe('tracing: cron inserts', () => {
  const schema = new TestSchema('tracing_cron');
  let app: INestApplicationContext | undefined;
  after(async () => {
    await app?.close();
    exporter.reset();
    await schema.drop();
  });

  it('each slot inserted has a PRODUCER span and its context in the job meta', async () => {
    // A fast clock: a cron minute every 400 ms.
    const start = Date.now();
    const clock: Clock = { now: () => start + (Date.now() - start) * 150, rate: 150 };
    @Global()
    @Module({ providers: [{ provide: OBAN_CLOCK, useValue: clock }], exports: [OBAN_CLOCK] })
    class ClockModule {}
    app = await createApp({
      oban: {
        connection: DATABASE_URL,
        prefix: schema.prefix,
        migrate: true,
        queues: {},
        node: 'tracing-cron-node',
        crontab: [{ cron: '* * * * *', worker: TracedWorker, args: {}, name: 'traced-cron' }],
      },
      imports: [ClockModule, TracingWorkersModule, ObanTracingModule.forRoot()],
    });
    const oban = app.get(Oban);
    const cron = await waitFor('a cron producer span with a job', () =>
      spans('send traced').find(
        (s) => s.attributes['messaging.operation.name'] === 'cron' && s.attributes['messaging.message.id'],
      ),
    );
    assert.equal(cron.kind, SpanKind.PRODUCER);
    assert.equal(cron.parentSpanContext, undefined, 'a cron insert starts its own trace');
    const job = (await oban.getJob(Number(cron.attributes['messaging.message.id']))) as Job;
    assert.equal(job.meta.cron, 'traced-cron');
    assert.equal(job.meta.traceparent, formatTraceparent(cron.spanContext()));
  });
});

describe('tracing: a cpu job in a worker process', () => {
  const schema = new TestSchema('tracing_cpu');
  const dir = mkdtempSync(path.join(tmpdir(), 'nest-oban-tracing-'));
  const file = path.join(dir, 'spans.jsonl');
  let app: INestApplicationContext | undefined;
  after(async () => {
    await app?.close();
    delete process.env.TRACING_SPANS_FILE;
    exporter.reset();
    rmSync(dir, { recursive: true, force: true });
    await schema.drop();
  });

  it("the consumer span's context crosses the IPC hop: spans perform starts there are its children", async () => {
    process.env.TRACING_SPANS_FILE = file;
    tracingOptions.current = {
      connection: DATABASE_URL,
      prefix: schema.prefix,
      migrate: true,
      stageInterval: 100,
      processes: 1,
      queues: { 'traced-cpu': 2 },
      node: 'tracing-cpu-node',
    };
    app = await NestFactory.createApplicationContext(TracingAppModule, { logger: ['error'] });
    const oban = app.get(Oban);
    const job = await oban.insert(CpuTracedWorker, {});
    const done = await settled(oban, job.id);
    assert.equal(done.state, 'completed');
    const result = done.result as { active: string; pid: number };
    assert.notEqual(result.pid, process.pid, 'it ran in a worker process');

    const [producer] = spans('send traced-cpu');
    const [consumer] = await consumerSpans(job.id);
    assertChildOf(consumer, producer, 'consumer');
    assert.equal(result.active, consumer.spanContext().spanId, 'the consumer span is the active one in perform');

    const fromChild = await waitFor('the worker process spans', () => {
      const lines = existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : [];
      const found = lines.map((l) => JSON.parse(l) as FileSpan);
      return found.length >= 2 ? found : null;
    });
    const inside = fromChild.find((s) => s.name === 'inside cpu perform');
    const nested = fromChild.find((s) => s.name === 'nested after await');
    assert.ok(inside && nested, JSON.stringify(fromChild));
    assert.equal(inside.pid, result.pid);
    assertChildOf(inside, consumer, 'span started in the worker process');
    assert.equal(nested.traceId, consumer.spanContext().traceId);
    assert.equal(nested.parentSpanId, inside.spanId, 'the context survives an await in the worker process');
  });
});

describe('tracing: off', () => {
  const schema = new TestSchema('tracing_off');
  let app: INestApplicationContext | undefined;
  after(async () => {
    await app?.close();
    exporter.reset();
    await schema.drop();
  });

  it('without ObanTracingModule no hook is registered, no span is made and meta stays as given', async () => {
    app = await createApp({
      oban: { connection: DATABASE_URL, prefix: schema.prefix, migrate: true, processes: 0, queues: { traced: 2 } },
      imports: [TracingWorkersModule],
    });
    const hooks = app.get(ObanHooks);
    assert.equal(hooks.insert, undefined);
    assert.equal(hooks.attempt, undefined);
    const oban = app.get(Oban);
    const job = await oban.insert(TracedWorker, {}, { meta: { mine: 1 } });
    assert.deepEqual(job.meta, { mine: 1 });
    const done = await settled(oban, job.id);
    assert.equal((done.result as { active: string | null }).active, null, 'no span is active in perform');
    assert.deepEqual(
      spans().map((s) => s.name),
      ['inside perform'],
    );
  });

  it('closing the app removes the hooks it registered', async () => {
    @Module({
      imports: [
        ObanModule.forRoot({ connection: DATABASE_URL, prefix: schema.prefix, queues: {} }),
        ObanTracingModule.forRoot(),
      ],
    })
    class Root {}
    const traced = await NestFactory.createApplicationContext(Root, { logger: ['error'] });
    const hooks = traced.get(ObanHooks);
    assert.equal(typeof hooks.insert, 'function');
    assert.equal(typeof hooks.attempt, 'function');
    await traced.close();
    assert.equal(hooks.insert, undefined);
    assert.equal(hooks.attempt, undefined);
  });
});

describe('tracing: W3C trace context', () => {
  it('reads a valid traceparent and refuses malformed ones', () => {
    const valid = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    assert.deepEqual(parseTraceparent(valid), {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: 1,
    });
    assert.equal(formatTraceparent(parseTraceparent(valid)!), valid);
    for (const bad of [
      undefined,
      42,
      '',
      '00-00000000000000000000000000000000-b7ad6b7169203331-01',
      '00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01',
      'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra',
      '00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01',
    ]) {
      assert.equal(parseTraceparent(bad), undefined, String(bad));
    }
  });
});

describe('tracing: the package entry', () => {
  it('is nest-oban/tracing, an optional peer; the main entry and the worker process load without @opentelemetry/api', () => {
    assertOptionalEntry('./tracing', '@opentelemetry/api');
    assertLoadsWithout('@opentelemetry/api', './lib/tracing');
    // The worker process's side: a run message with a trace context, and no @opentelemetry/api to apply it.
    const child = runWithout(
      '@opentelemetry/api',
      `const { inTraceContext } = require('./lib/pool/child/trace-context');
       console.log(inTraceContext({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }, () => 'ran'));`,
    );
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), 'ran');
  });
});
