import { performance } from 'node:perf_hooks';
import { percentile } from '../common/stats';
import type { SystemName } from '../common/systems';
import { report, runMain } from '../common/task';
import { sleep } from '../common/wait';
import { waitForIdleDatabase } from './idle-database';
import { measureDrain, measureInsert, measureLatency, measureLatencyUnderLoad } from './measure';
import { type BenchMode, type BenchPlan, type Cell, type ChildMessage, drainTimebox, stepsFor } from './plan';
import type { ProducerSide } from './system';
import type { NestObanProducer } from './systems/nest-oban';
import { WorkerLink } from './worker-link';

/**
 * One system's part of the bench: this process is the producer (it stores the
 * jobs and watches the store); the system's workers run in a worker process
 * of their own (workers.ts) that this one forks, so that the two sides share
 * no heap, event loop or connection pool, and no library shares them with
 * another. Started by main.ts with the plan as JSON in argv; reports over IPC.
 */
async function main(): Promise<void> {
  const system = process.argv[2] as SystemName;
  const plan = JSON.parse(process.argv[3]) as BenchPlan;
  const mode = process.argv[4] as BenchMode;
  const producer = load(system, plan.databaseUrl);
  const send: (message: ChildMessage) => void = report;
  const steps = stepsFor(system, plan, mode);
  let stepIndex = 0;
  const step = (expected: string) => {
    if (steps[stepIndex] !== expected)
      throw new Error(`bench plan out of step: '${expected}' vs '${steps[stepIndex]}'`);
    stepIndex++;
    send({ type: 'step', label: expected });
  };
  const progress = (fraction: number) => send({ type: 'progress', fraction });
  const cell = (c: Omit<Cell, 'system'>) => send({ type: 'cell', cell: { system, ...c } });

  await producer.setup();
  const workers = await WorkerLink.start(system, plan.databaseUrl, producer.location);
  try {
    const clock = await workers.clockOffset();
    send({
      type: 'info',
      system,
      settings: producer.settings,
      completedRows: producer.completedRows,
      clock: `worker process clock ${clock.offsetMs >= 0 ? '+' : ''}${clock.offsetMs.toFixed(3)} ms (± ${(clock.roundTripMs / 2).toFixed(3)})`,
    });
    if (mode === 'scale') return await scale(producer as NestObanProducer, workers, plan, step, progress, cell);

    step('warm-up');
    await measureDrain(
      producer,
      workers,
      Math.min(2_000, plan.jobs),
      { concurrency: 10 },
      plan.drainTimeboxMs / 4,
      progress,
    );
    if (mode === 'latency') {
      step(`latency, ${plan.latencySamples} single inserts`);
      await waitForIdleDatabase(plan.databaseUrl);
      const latency = await measureLatency(
        producer,
        workers,
        plan.latencySamples,
        plan.latencyConcurrency,
        plan.latencyTimeboxMs,
        progress,
      );
      const note = latency.timedOut
        ? `latency time-boxed at ${plan.latencyTimeboxMs / 1000} s: ${latency.samples.length} of ${plan.latencySamples} samples`
        : undefined;
      cell({ row: 'latency', value: latency.samples.length, runs: latency.samples, note });
      cell({ row: 'latencyInsert', value: latency.inserts.length, runs: latency.inserts });
    } else {
      await throughput(producer, workers, plan, system, step, progress, cell);
    }
  } finally {
    await workers.close();
    await producer.teardown();
  }
}

type Step = (label: string) => void;
type Progress = (fraction: number) => void;
type SendCell = (c: Omit<Cell, 'system'>) => void;

/** A system's round of throughput rows: bulk insert, a drain at each concurrency, and for nest-oban its own rows. */
async function throughput(
  producer: ProducerSide,
  workers: WorkerLink,
  plan: BenchPlan,
  system: SystemName,
  step: Step,
  progress: Progress,
  cell: SendCell,
): Promise<void> {
  step(`insert ${plan.jobs} bulk`);
  cell({ row: 'insert', value: await measureInsert(producer, plan.jobs) });

  for (const c of plan.concurrencies) {
    step(`drain ${plan.jobs} at ${c}`);
    const timebox = drainTimebox(plan, system);
    const result = await measureDrain(producer, workers, plan.jobs, { concurrency: c }, timebox, progress);
    const note = result.timedOut
      ? `drain at ${c} time-boxed at ${timebox / 1000} s: ${result.done} of ${plan.jobs} jobs`
      : undefined;
    cell({ row: `drain${c}`, value: result.done / result.seconds, note });
  }
  if (system !== 'nest-oban') return;

  step(`insertAll ${plan.coreJobs}`);
  cell({ row: 'coreInsertAll', value: await measureInsert(producer, plan.coreJobs) });
  // The same drain without and with a job.stop listener and ObanMetricsModule, one after the other in each round.
  for (const observed of [false, true]) {
    step(`drain ${plan.coreJobs} at limit ${plan.coreLimit}${observed ? ', events + metrics on' : ''}`);
    const workerPlan = { concurrency: plan.coreLimit, observed };
    const result = await measureDrain(producer, workers, plan.coreJobs, workerPlan, plan.drainTimeboxMs, progress);
    cell({ row: observed ? 'observedDrain' : 'coreDrain', value: result.done / result.seconds });
  }

  step(`latency on a second queue during a drain of ${plan.loadJobs} at limit ${plan.loadLimit}`);
  const loaded = await measureLatencyUnderLoad(
    producer,
    workers,
    plan.loadJobs,
    plan.loadLimit,
    plan.drainTimeboxMs,
    progress,
  );
  const note = `${loaded.samples.length} probes during the drain (${Math.round(loaded.drain.done / loaded.drain.seconds)} jobs/s)`;
  cell({ row: 'loadLatency', value: loaded.samples.length, runs: loaded.samples, note });
}

/**
 * nest-oban's scale step: a table of `completed` finished rows and `available`
 * jobs; the fetch statement's execution time there (median of 5 EXPLAIN
 * ANALYZE, rolled back), then a drain of `drain` of the jobs at `limit`.
 */
async function scale(
  producer: NestObanProducer,
  workers: WorkerLink,
  plan: BenchPlan,
  step: Step,
  progress: Progress,
  cell: SendCell,
): Promise<void> {
  const s = plan.scale!;
  const n = (v: number) => v.toLocaleString('en-US');
  step(`scale: store ${n(s.completed)} completed + ${n(s.available)} available rows`);
  const t0 = performance.now();
  await producer.fillForScale(s.completed, s.available);
  const fillSeconds = (performance.now() - t0) / 1000;

  step('scale: EXPLAIN ANALYZE of the fetch statement');
  const explains = [];
  for (let i = 0; i < 5; i++) explains.push(await producer.explainFetch(s.limit));
  const times = explains.map((e) => e.ms);
  const nodes = explains[0].nodes.join(', ');
  const seq = explains.some((e) => e.nodes.some((node) => node.startsWith('Seq Scan')));
  cell({
    row: 'scaleFetch',
    value: percentile(times, 50),
    runs: times,
    note: `fetch of ${s.limit} by EXPLAIN ANALYZE, median of 5, rolled back; plan nodes depth first: ${nodes}${seq ? ' (a SEQUENTIAL SCAN)' : ''}; table stored in ${fillSeconds.toFixed(0)} s`,
  });

  step(`scale: drain ${n(s.drain)} at limit ${s.limit}`);
  await workers.prepare({ concurrency: s.limit });
  const t1 = performance.now();
  const deadline = t1 + plan.drainTimeboxMs;
  await workers.start();
  const target = s.available - s.drain;
  let left = s.available;
  let timedOut = false;
  for (;;) {
    progress(workers.started / s.drain);
    if (workers.started >= s.drain) {
      left = await producer.remaining();
      if (left <= target) break;
    }
    if (performance.now() > deadline) {
      left = await producer.remaining();
      timedOut = left > target;
      break;
    }
    await sleep(20);
  }
  const seconds = (performance.now() - t1) / 1000;
  await workers.stop();
  const done = s.available - left;
  const note = timedOut ? `time-boxed at ${plan.drainTimeboxMs / 1000} s: ${done} jobs` : undefined;
  cell({ row: 'scaleDrain', value: Math.min(done, s.drain) / seconds, note });
}

/** Loads only the library under test into this process. */
function load(system: SystemName, url: string): ProducerSide {
  switch (system) {
    case 'nest-oban':
      return new (require('./systems/nest-oban') as typeof import('./systems/nest-oban')).NestObanProducer(url);
    case 'graphile-worker':
    case 'graphile-worker-tuned': {
      const { GraphileWorkerProducer } =
        require('./systems/graphile-worker') as typeof import('./systems/graphile-worker');
      return new GraphileWorkerProducer(url, system === 'graphile-worker' ? 'defaults' : 'tuned');
    }
    case 'pg-boss':
    case 'pg-boss-tuned': {
      const { PgBossProducer } = require('./systems/pg-boss') as typeof import('./systems/pg-boss');
      return new PgBossProducer(url, system === 'pg-boss' ? 'defaults' : 'tuned');
    }
    case 'bullmq':
      return new (require('./systems/bullmq') as typeof import('./systems/bullmq')).BullMqProducer();
    case 'postgres-floor': {
      const { PostgresFloorProducer } =
        require('./systems/postgres-floor') as typeof import('./systems/postgres-floor');
      return new PostgresFloorProducer(url);
    }
  }
}

runMain(main);
