import 'reflect-metadata';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as diagnostics from 'node:diagnostics_channel';
import { Global, Module, type INestApplicationContext, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  Oban,
  ObanEvents,
  OnObanEvent,
  obanChannelName,
  type InsertEvent,
  type JobStopEvent,
  type ObanEventMap,
  type ObanEventName,
  type ObanModuleOptions,
} from '../lib';
import { resolveConfig } from '../lib/config/config';
import { OBAN_CLOCK, type Clock } from '../lib/util/clock';
import { createApp } from './support/app';
import { terminateListener, withAppName } from './support/backends';
import { DATABASE_URL, TestSchema } from './support/db';
import { waitFor } from './support/wait';
import {
  EventRecorder,
  EventsAppModule,
  EventsWorkersModule,
  OutcomeWorker,
  SpinWorker,
  eventsOptions,
} from './fixtures/events/events-app.module';

/** A LoggerService that keeps its lines. */
class MemoryLogger implements LoggerService {
  readonly lines: Array<{ level: string; message: string }> = [];
  log(message: string) {
    this.lines.push({ level: 'log', message });
  }
  warn(message: string) {
    this.lines.push({ level: 'warn', message });
  }
  error(message: string) {
    this.lines.push({ level: 'error', message });
  }
  matching(pattern: RegExp) {
    return this.lines.filter((l) => pattern.test(l.message));
  }
}

describe('events', () => {
  const schema = new TestSchema('events');
  let app: INestApplicationContext | undefined;
  let runs = 0;

  async function boot(options: ObanModuleOptions = {}) {
    eventsOptions.current = {
      connection: DATABASE_URL,
      prefix: schema.prefix,
      migrate: true,
      stageInterval: 100,
      processes: 0,
      queues: { main: 5 },
      node: `events-${++runs}`,
      ...options,
    };
    app = await NestFactory.createApplicationContext(EventsAppModule, { logger: ['error'] });
    return { oban: app.get(Oban), events: app.get(ObanEvents) };
  }

  const settled = (oban: Oban, id: number, states = ['completed', 'discarded', 'cancelled', 'scheduled']) =>
    waitFor(
      `job ${id} to settle`,
      async () => {
        const job = await oban.getJob(id);
        return job && states.includes(job.state) && job.attempt > 0 ? job : null;
      },
      { timeout: 30_000 },
    );

  const stopOf = (id: number) => EventRecorder.of('job.stop').find((e) => e.job.id === id);

  beforeEach(() => {
    EventRecorder.seen.length = 0;
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await schema.query(`DELETE FROM ${schema.jobs}`).catch(() => undefined);
  });
  after(async () => {
    await schema.drop();
  });

  it('emits job.start, job.stop (each state) and job.exception to @OnObanEvent methods, with timing', async () => {
    const { oban } = await boot();
    const scheduledAt = new Date(Date.now() - 2_000); // due 2 s ago: queue time about 2 s
    const ok = await oban.insert(OutcomeWorker, { kind: 'ok', ms: 150 }, { scheduledAt });
    const fail = await oban.insert(OutcomeWorker, { kind: 'fail' });
    const snoozed = await oban.insert(OutcomeWorker, { kind: 'snooze' });
    const cancelled = await oban.insert(OutcomeWorker, { kind: 'cancel' });
    await waitFor('every job.stop', () => EventRecorder.of('job.stop').length >= 5, { timeout: 20_000 });
    // job.stop comes as the attempt ends; its outcome is written a moment later, in the acker's batch.
    assert.equal((await settled(oban, fail.id, ['discarded'])).state, 'discarded');
    await waitFor(
      'the snoozed job scheduled again',
      async () => (await oban.getJob(snoozed.id))?.state === 'scheduled',
    );

    const okStop = stopOf(ok.id)!;
    assert.equal(okStop.state, 'completed');
    assert.equal(okStop.jobState, 'completed');
    assert.deepEqual(okStop.result, { done: 'ok' });
    assert.equal(okStop.cpu, false);
    assert.equal(okStop.worker, 'OutcomeWorker');
    assert.equal(okStop.queue, 'main');
    assert.equal(okStop.attempt, 1);
    assert.ok(okStop.duration >= 140 && okStop.duration < 2_000, `duration ${okStop.duration}`);
    assert.ok(okStop.queueTime >= 1_900 && okStop.queueTime < 10_000, `queueTime ${okStop.queueTime}`);
    const okStart = EventRecorder.of('job.start').find((e) => e.job.id === ok.id)!;
    assert.equal(okStart.spanContext, okStop.spanContext, 'one span context per attempt');
    assert.ok(okStart.startTime <= okStop.startTime + 1 && okStart.startTime > Date.now() - 30_000);

    const failStops = EventRecorder.of('job.stop').filter((e) => e.job.id === fail.id);
    assert.deepEqual(
      failStops.map((e) => [e.attempt, e.state, e.jobState]),
      [
        [1, 'failure', 'retryable'],
        [2, 'discard', 'discarded'],
      ],
    );
    assert.match(failStops[0].error!.message, /^Error: boom$/);
    const exceptions = EventRecorder.of('job.exception').filter((e) => e.job.id === fail.id);
    assert.deepEqual(
      exceptions.map((e) => [e.attempt, e.state, e.error.message]),
      [
        [1, 'failure', 'Error: boom'],
        [2, 'discard', 'Error: boom'],
      ],
    );
    assert.ok(exceptions[0].error.stack?.includes('OutcomeWorker'));

    assert.equal(stopOf(snoozed.id)!.state, 'snoozed');
    assert.equal(stopOf(snoozed.id)!.snooze, 60);
    assert.equal(stopOf(snoozed.id)!.jobState, 'scheduled');
    assert.equal(stopOf(cancelled.id)!.state, 'cancelled');
    assert.equal(stopOf(cancelled.id)!.error!.message, 'JobCancel: not wanted');
    // A job started once per attempt: 1 + 2 + 1 + 1.
    assert.equal(EventRecorder.of('job.start').length, 5);
  });

  it('a listener that throws or rejects never affects the job, and is logged once', async () => {
    const logger = new MemoryLogger();
    const { oban, events } = await boot({ logger });
    events.on('job.start', () => {
      throw new Error('listener bug');
    });
    events.on('job.stop', async () => {
      throw new Error('async listener bug');
    });
    const seen: number[] = [];
    events.on('job.stop', (e) => seen.push(e.job.id)); // after the throwing one: still called
    const jobs = [await oban.insert(OutcomeWorker, { kind: 'a' }), await oban.insert(OutcomeWorker, { kind: 'b' })];
    for (const job of jobs) assert.equal((await settled(oban, job.id)).state, 'completed');
    await waitFor('both stops', () => seen.length === 2);
    await waitFor('the rejection logged', () => logger.matching(/async listener bug/).length === 1);
    assert.equal(logger.matching(/a listener of 'job\.start' threw \(Error: listener bug\)/).length, 1);
    assert.equal(logger.matching(/async listener bug/).length, 1, 'logged once, not once per job');
    assert.deepEqual((await oban.getJob(jobs[0].id))!.result, { done: 'a' });
  });

  it('publishes on node:diagnostics_channel nest-oban:<name>, and stops building payloads when no one listens', async () => {
    const { oban, events } = await boot();
    const inserts: InsertEvent[] = [];
    const stops: JobStopEvent[] = [];
    const onInsert = (message: unknown) => inserts.push(message as InsertEvent);
    const onStop = (message: unknown) => stops.push(message as JobStopEvent);
    assert.equal(events.has('insert'), false);
    diagnostics.subscribe(obanChannelName('insert'), onInsert);
    diagnostics.subscribe('nest-oban:job.stop', onStop);
    try {
      assert.equal(events.has('insert'), true);
      const one = await oban.insert(OutcomeWorker, { kind: 'one' });
      const many = await oban.insertAll([
        { worker: OutcomeWorker, args: { kind: 'x' } },
        { worker: 'OutcomeWorker', args: { kind: 'y' }, queue: 'elsewhere' },
      ]);
      assert.equal(inserts.length, 2);
      assert.equal(inserts[0].bulk, false);
      assert.deepEqual(
        inserts[0].jobs.map((j) => j.id),
        [one.id],
      );
      assert.equal(inserts[1].bulk, true);
      assert.deepEqual(
        inserts[1].jobs.map((j) => [j.id, j.queue]),
        many.map((j) => [j.id, j.queue]),
      );
      assert.equal(inserts[1].node, eventsOptions.current.node);
      assert.ok(inserts[1].duration >= 0);
      // Workflows, batches and what is added to a batch are inserts too, each one bulk event.
      const flow = await oban.workflow().add('a', OutcomeWorker, { kind: 'w' }).insert();
      const batch = await oban.batch().add(OutcomeWorker, { kind: 'b1' }).add(OutcomeWorker, { kind: 'b2' }).insert();
      const grown = await oban.addToBatch(batch.id, [{ worker: OutcomeWorker, args: { kind: 'b3' } }]);
      assert.deepEqual(
        inserts.slice(2).map((e) => [e.bulk, e.jobs.map((j) => j.id)]),
        [
          [true, [flow.jobs.a.id]],
          [true, batch.jobs.map((j) => j.id)],
          [true, grown.map((j) => j.id)],
        ],
      );
      await settled(oban, one.id);
      await waitFor('a stop on the channel', () => stops.find((s) => s.job.id === one.id));
    } finally {
      diagnostics.unsubscribe(obanChannelName('insert'), onInsert);
      diagnostics.unsubscribe('nest-oban:job.stop', onStop);
    }
    assert.equal(events.has('insert'), false);
    assert.equal(events.has('job.start'), true, 'the @OnObanEvent recorder listens');
  });

  it('emits queue.pause, queue.resume and queue.scale', async () => {
    const { oban, events } = await boot();
    const got: Array<[ObanEventName, unknown]> = [];
    for (const name of ['queue.pause', 'queue.resume', 'queue.scale'] as const) {
      events.on(name, (e) => got.push([name, e]));
    }
    await oban.pauseQueue('main');
    await oban.scaleQueue('main', 7);
    await oban.resumeQueue('main');
    const node = eventsOptions.current.node;
    assert.deepEqual(got, [
      ['queue.pause', { queue: 'main', node }],
      ['queue.scale', { queue: 'main', node, limit: 7 }],
      ['queue.resume', { queue: 'main', node }],
    ]);
    assert.equal(oban.checkQueue('main')!.limit, 7);
  });

  it('emits leader.elected, notifier.connected at boot; notifier.disconnected and a reconnect; leader.resigned at shutdown', async () => {
    const appName = `events-notifier-${process.pid}`;
    const { events } = await boot({ connection: withAppName(DATABASE_URL, appName), reconcileInterval: 200 });
    const node = eventsOptions.current.node!;
    const elected = EventRecorder.of('leader.elected');
    assert.equal(elected.length, 1);
    assert.equal(elected[0].node, node);
    assert.ok(elected[0].since <= Date.now());
    assert.deepEqual(EventRecorder.of('notifier.connected'), [{ node, reconnect: false }]);

    const lost: Array<ObanEventMap['notifier.disconnected']> = [];
    events.on('notifier.disconnected', (e) => lost.push(e));
    await terminateListener(schema, appName);
    await waitFor('the disconnect', () => lost.length === 1);
    assert.equal(lost[0].node, node);
    assert.match(lost[0].error.message, /\w+: /);
    await waitFor('the reconnect', () => EventRecorder.of('notifier.connected').some((e) => e.reconnect), {
      timeout: 15_000,
    });

    const resigned: Array<ObanEventMap['leader.resigned']> = [];
    events.on('leader.resigned', (e) => resigned.push(e));
    await app!.close();
    app = undefined;
    assert.equal(resigned.length, 1);
    assert.equal(resigned[0].node, node);
    assert.ok(resigned[0].until >= elected[0].since);
  });

  it('emits lifeline.rescue with the node jobs were rescued from: a restart, and a dead node', async () => {
    await schema.migrate();
    const node = `events-${runs + 1}`;
    const insertExecuting = async (by: string) => {
      const [row] = await schema.query(
        `INSERT INTO ${schema.jobs} (state, queue, worker, args, attempt, max_attempts, attempted_at, attempted_by)
         VALUES ('executing', 'main', 'OutcomeWorker', '{"kind":"rescued"}', 1, 3, now(), ARRAY[$1, 'x'])
         RETURNING id`,
        [by],
      );
      return Number(row.id);
    };
    const own = await insertExecuting(node);
    const dead = await insertExecuting('events-dead-node');
    // The recorder is subscribed at module init: before the node starts and rescues its earlier run's jobs.
    const { oban } = await boot({ heartbeatInterval: 100, nodeTtl: 500 });
    const rescues = () => EventRecorder.of('lifeline.rescue');
    await settled(oban, own);
    await waitFor('the dead node rescue', () => rescues().find((r) => r.reason === 'dead-node'), { timeout: 15_000 });
    const restart = rescues().find((r) => r.reason === 'restart')!;
    assert.deepEqual(restart, {
      node,
      from: node,
      reason: 'restart',
      queue: 'main',
      count: 1,
      available: 1,
      discarded: 0,
    });
    const deadRescue = rescues().find((r) => r.reason === 'dead-node')!;
    assert.deepEqual(deadRescue, {
      node,
      from: 'events-dead-node',
      reason: 'dead-node',
      queue: 'main',
      count: 1,
      available: 1,
      discarded: 0,
    });
    await settled(oban, dead);
  });

  it('emits cron.insert for each slot it inserts', async () => {
    // A fast clock: a cron minute every 400 ms.
    const start = Date.now();
    const clock: Clock = { now: () => start + (Date.now() - start) * 150, rate: 150 };
    @Global()
    @Module({ providers: [{ provide: OBAN_CLOCK, useValue: clock }], exports: [OBAN_CLOCK] })
    class ClockModule {}
    const name = 'events-cron';
    app = await createApp({
      oban: {
        connection: DATABASE_URL,
        prefix: schema.prefix,
        migrate: true,
        queues: {},
        node: 'events-cron-node',
        crontab: [{ cron: '* * * * *', worker: OutcomeWorker, args: { kind: 'cron' }, name }],
      },
      imports: [ClockModule, EventsWorkersModule],
    });
    await waitFor('two slots inserted', () => EventRecorder.of('cron.insert').length >= 2);
    const oban = app.get(Oban);
    for (const event of EventRecorder.of('cron.insert')) {
      assert.equal(event.name, name);
      assert.equal(event.node, 'events-cron-node');
      assert.ok(event.slot instanceof Date && event.slot.getUTCSeconds() === 0);
      assert.equal(event.missed, false);
      const job = await oban.getJob(event.jobId);
      assert.ok(job, `job ${event.jobId} exists`);
      assert.equal(job.meta.cron_slot, event.slot.toISOString());
    }
  });
});

describe('events of jobs run in worker processes', () => {
  const schema = new TestSchema('events_cpu');
  let app: INestApplicationContext | undefined;
  after(async () => {
    await app?.close();
    await schema.drop();
  });

  it('arrive in the main process with the right timing; pool.process.started and .exited carry pid and code', async () => {
    EventRecorder.seen.length = 0;
    eventsOptions.current = {
      connection: DATABASE_URL,
      prefix: schema.prefix,
      migrate: true,
      stageInterval: 100,
      processes: 1,
      queues: { cpu: 1 },
    };
    app = await NestFactory.createApplicationContext(EventsAppModule, { logger: ['error'] });
    const oban = app.get(Oban);
    const [{ pid }] = await oban.checkProcesses();
    assert.deepEqual(
      EventRecorder.of('pool.process.started').map((e) => [e.pid, e.slot]),
      [[pid, 0]],
    );
    // Two 300 ms jobs on one process with a queue limit of 1: the second's queue time includes the first's run.
    const jobs = [await oban.insert(SpinWorker, { ms: 300 }), await oban.insert(SpinWorker, { ms: 300 })];
    await waitFor('both stops', () => EventRecorder.of('job.stop').length === 2, { timeout: 30_000 });
    for (const job of jobs) {
      const stop = EventRecorder.of('job.stop').find((e) => e.job.id === job.id)!;
      assert.equal(stop.state, 'completed');
      assert.equal(stop.cpu, true);
      assert.deepEqual(stop.result, { pid });
      assert.notEqual(pid, process.pid);
      assert.ok(stop.duration >= 295 && stop.duration < 3_000, `duration ${stop.duration}`);
      const start = EventRecorder.of('job.start').find((e) => e.job.id === job.id)!;
      assert.equal(start.cpu, true);
      assert.equal(start.spanContext, stop.spanContext);
    }
    const second = EventRecorder.of('job.stop').find((e) => e.job.id === jobs[1].id)!;
    assert.ok(second.queueTime >= 250, `the second job waited for the first: queueTime ${second.queueTime}`);

    const crash = await oban.insert(SpinWorker, { ms: 0, exit: 3 });
    await waitFor('the exit', () => EventRecorder.of('pool.process.exited').length === 1, { timeout: 30_000 });
    const [exited] = EventRecorder.of('pool.process.exited');
    assert.deepEqual(exited, {
      node: exited.node,
      pid,
      slot: 0,
      code: 3,
      signal: null,
      jobs: [crash.id],
      stopped: false,
    });
    const crashStop = await waitFor('the crash job.stop', () =>
      EventRecorder.of('job.stop').find((e) => e.job.id === crash.id),
    );
    assert.equal(crashStop.state, 'discard');
    assert.match(crashStop.error!.message, /WorkerProcessExitError: worker process \d+ exited with code 3/);
    await waitFor('a new process', () => EventRecorder.of('pool.process.started').length === 2, { timeout: 30_000 });
  });
});

describe('ObanEvents and @OnObanEvent on their own', () => {
  it('has() is false until someone listens; on() returns an unsubscribe; unknown names are refused', () => {
    const logger = new MemoryLogger();
    const events = new ObanEvents('n1', logger);
    assert.equal(events.has('job.stop'), false);
    const got: unknown[] = [];
    const off = events.on('job.stop', (e) => got.push(e));
    assert.equal(events.has('job.stop'), true);
    events.emit('job.stop', { x: 1 } as any);
    off();
    assert.equal(events.has('job.stop'), false);
    events.emit('job.stop', { x: 2 } as any);
    assert.deepEqual(got, [{ x: 1 }]);
    assert.throws(() => events.on('job.finished' as any, () => undefined), /unknown event 'job\.finished'/);
    assert.throws(() => OnObanEvent('job.done' as any), /@OnObanEvent\('job\.done'\): unknown event/);
  });
});

describe('logging options', () => {
  const schema = new TestSchema('events_log');
  let app: INestApplicationContext | undefined;
  after(async () => {
    await app?.close();
    await schema.drop();
  });

  it('validates logger, logLevel and logJobs with messages naming them', () => {
    assert.throws(() => resolveConfig({ logger: {} as any }, {}), /logger must be a Nest LoggerService/);
    assert.throws(() => resolveConfig({ logger: { log() {}, warn() {} } as any }, {}), /it has no error\(\) method/);
    assert.throws(
      () => resolveConfig({ logLevel: 'loud' as any }, {}),
      /logLevel must be one of 'verbose', .*got 'loud'/,
    );
    assert.throws(() => resolveConfig({ logJobs: 'yes' as any }, {}), /logJobs/);
    assert.equal(resolveConfig({}, {}).logJobs, false);
  });

  it('writes nest-oban lines to a custom logger at logLevel and above, and one JSON line per job with logJobs', async () => {
    const logger = new MemoryLogger();
    eventsOptions.current = {
      connection: DATABASE_URL,
      prefix: schema.prefix,
      migrate: true,
      stageInterval: 100,
      processes: 0,
      queues: { main: 2 },
      logger,
      logLevel: 'warn',
      logJobs: true,
    };
    app = await NestFactory.createApplicationContext(EventsAppModule, { logger: false });
    const oban = app.get(Oban);
    // The boot line ('node ... running queues') is at 'log': below 'warn', not written.
    assert.equal(logger.matching(/running queues/).length, 0);
    const failing = await oban.insert(OutcomeWorker, { kind: 'fail' });
    await waitFor('two job lines', () => logger.matching(/"event":"job.stop"/).length === 2, { timeout: 15_000 });
    const lines = logger.matching(/"event":"job.stop"/);
    assert.deepEqual(
      lines.map((l) => [l.level, JSON.parse(l.message).state, JSON.parse(l.message).attempt]),
      [
        ['warn', 'failure', 1],
        ['error', 'discard', 2],
      ],
    );
    const line = JSON.parse(lines[0].message);
    assert.equal(line.id, failing.id);
    assert.equal(line.worker, 'OutcomeWorker');
    assert.equal(line.error, 'Error: boom');
    assert.equal(typeof line.duration_ms, 'number');
    assert.ok(!lines[0].message.includes('\n'), 'one line');
    await app.close();
    app = undefined;

    // Default: no job lines, and 'log' lines reach the custom logger.
    const quiet = new MemoryLogger();
    eventsOptions.current = { ...eventsOptions.current, logger: quiet, logLevel: undefined, logJobs: undefined };
    app = await NestFactory.createApplicationContext(EventsAppModule, { logger: false });
    const ok = await app.get(Oban).insert(OutcomeWorker, { kind: 'ok' });
    await waitFor('done', async () => (await app!.get(Oban).getJob(ok.id))?.state === 'completed');
    assert.equal(quiet.matching(/running queues main:2/).length, 1);
    assert.equal(quiet.matching(/job\.stop/).length, 0);
  });
});
