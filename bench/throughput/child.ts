import { median } from '../common/stats';
import type { SystemName } from '../common/systems';
import { report, runMain } from '../common/task';
import { waitForIdleDatabase } from './idle-database';
import { JobTracker, measureDrain, measureInsert, measureLatency } from './measure';
import { type BenchMode, type BenchPlan, type Cell, type ChildMessage, stepsFor } from './plan';
import type { BenchSystem } from './system';
import type { NestObanSystem } from './systems/nest-oban';

/**
 * One system's part of the bench, in a process of its own so that no library
 * shares a heap, an event loop or a connection pool with another. Started by
 * main.ts with the plan as JSON in argv; reports over IPC.
 */
async function main(): Promise<void> {
  const system = process.argv[2] as SystemName;
  const plan = JSON.parse(process.argv[3]) as BenchPlan;
  const mode = process.argv[4] as BenchMode;
  const adapter = load(system, plan.databaseUrl);
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

  send({ type: 'info', system, settings: adapter.settings, completedRows: adapter.completedRows });
  const tracker = new JobTracker();
  await adapter.setup(tracker.onJob);
  try {
    step('warm-up');
    await measureDrain(adapter, tracker, Math.min(2_000, plan.jobs), 10, plan.drainTimeboxMs / 4, progress);

    if (mode === 'latency') {
      step(`latency, ${plan.latencySamples} single inserts`);
      await waitForIdleDatabase(plan.databaseUrl);
      const latency = await measureLatency(
        adapter,
        tracker,
        plan.latencySamples,
        plan.latencyConcurrency,
        plan.latencyTimeboxMs,
        progress,
      );
      const note = latency.timedOut
        ? `latency time-boxed at ${plan.latencyTimeboxMs / 1000} s: ${latency.samples.length} of ${plan.latencySamples} samples`
        : undefined;
      cell({ row: 'latency', value: latency.samples.length, runs: latency.samples, note });
    } else {
      await throughput(adapter, tracker, plan, system, step, progress, cell);
    }
  } finally {
    await adapter.teardown();
  }
}

/** A system's throughput rows: bulk insert, drains, and for nest-oban issue 2's rows. */
async function throughput(
  adapter: BenchSystem,
  tracker: JobTracker,
  plan: BenchPlan,
  system: SystemName,
  step: (label: string) => void,
  progress: (fraction: number) => void,
  cell: (c: Omit<Cell, 'system'>) => void,
): Promise<void> {
  const inserts: number[] = [];
  for (let r = 1; r <= plan.runs; r++) {
    step(`insert ${plan.jobs} bulk, run ${r}/${plan.runs}`);
    inserts.push(await measureInsert(adapter, plan.jobs));
  }
  cell({ row: 'insert', value: median(inserts), runs: inserts });

  for (const c of plan.concurrencies) {
    const rates: number[] = [];
    let note: string | undefined;
    for (let r = 1; r <= plan.runs; r++) {
      step(`drain ${plan.jobs} at ${c}, run ${r}/${plan.runs}`);
      if (note) continue; // a time-boxed rate is steady already; don't spend another box on it
      const result = await measureDrain(adapter, tracker, plan.jobs, c, plan.drainTimeboxMs, progress);
      rates.push(result.done / result.seconds);
      if (result.timedOut) {
        note = `drain at ${c} time-boxed: ${result.done} of ${plan.jobs} jobs in ${Math.round(result.seconds)} s`;
      }
    }
    cell({ row: `drain${c}`, value: median(rates), runs: rates, note });
  }

  if (system === 'nest-oban') {
    const insertAll: number[] = [];
    for (let r = 1; r <= plan.runs; r++) {
      step(`insertAll ${plan.coreJobs}, run ${r}/${plan.runs}`);
      insertAll.push(await measureInsert(adapter, plan.coreJobs));
    }
    cell({ row: 'coreInsertAll', value: median(insertAll), runs: insertAll });
    // The same drain without and with a job.stop listener and ObanMetricsModule, taking turns, so a drift of the machine falls on both.
    const nestOban = adapter as NestObanSystem;
    const drains: number[] = [];
    const observed: number[] = [];
    for (let r = 1; r <= plan.runs; r++) {
      for (const on of [false, true]) {
        step(
          `drain ${plan.coreJobs} at limit ${plan.coreLimit}, ${on ? 'events + metrics on, ' : ''}run ${r}/${plan.runs}`,
        );
        nestOban.observed = on;
        const result = await measureDrain(
          adapter,
          tracker,
          plan.coreJobs,
          plan.coreLimit,
          plan.drainTimeboxMs,
          progress,
        );
        (on ? observed : drains).push(result.done / result.seconds);
      }
    }
    nestOban.observed = false;
    cell({ row: 'coreDrain', value: median(drains), runs: drains });
    cell({ row: 'observedDrain', value: median(observed), runs: observed });
  }
}

/** Loads only the library under test into this process. */
function load(system: SystemName, url: string): BenchSystem {
  switch (system) {
    case 'nest-oban':
      return new (require('./systems/nest-oban') as typeof import('./systems/nest-oban')).NestObanSystem(url);
    case 'graphile-worker':
      return new (
        require('./systems/graphile-worker') as typeof import('./systems/graphile-worker')
      ).GraphileWorkerSystem(url);
    case 'pg-boss':
      return new (require('./systems/pg-boss') as typeof import('./systems/pg-boss')).PgBossSystem(url);
  }
}

runMain(main);
