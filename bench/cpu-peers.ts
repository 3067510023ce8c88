/**
 * The peers' side of the CPU benchmark (issue 3's job: 100 jobs of 100,000
 * SHA-256 rounds, timed from the insert to the last job finished). Node queues
 * use a second core only by running a second worker process, so each peer is
 * timed with one worker process and with two; the floor is the same jobs over
 * plain forked processes with no queue. Runs in its own process, started by
 * run.ts, and reports rows over IPC.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { makeWorkerUtils } from 'graphile-worker';
import PgBoss from 'pg-boss';
import { Client } from 'pg';
import type { CpuPlan, CpuRow } from './cpu-plan';

type Send = (message: unknown) => void;

async function main(): Promise<void> {
  const plan = JSON.parse(process.argv[2]) as CpuPlan;
  const send: Send = (message) => process.send!(message);
  const rows: CpuRow[] = [];
  rows.push(await floor(plan, send));
  for (const system of ['graphile-worker', 'pg-boss'] as const) rows.push(await peer(system, plan, send));
  process.send!({ type: 'cpu', rows }, () => process.exit(0));
}

/** The same jobs over N plain processes, each taking the next job as it finishes one. */
async function floor(plan: CpuPlan, send: Send): Promise<CpuRow> {
  const seconds: number[] = [];
  for (const processes of plan.processes) {
    send({ type: 'step', label: `CPU floor: ${plan.jobs} jobs over ${processes} plain process(es)` });
    const children = await Promise.all(
      Array.from({ length: processes }, () => startChild(path.join(__dirname, 'cpu-floor-worker.ts'), [])),
    );
    const t0 = performance.now();
    let next = 0;
    let done = 0;
    await new Promise<void>((resolve) => {
      const give = (child: ChildProcess) => {
        if (next < plan.jobs) child.send({ type: 'job', key: next++, rounds: plan.rounds });
      };
      for (const child of children) {
        child.on('message', (m: { type: string }) => {
          if (m.type !== 'job') return;
          send({ type: 'progress', fraction: ++done / plan.jobs });
          if (done === plan.jobs) resolve();
          else give(child);
        });
        give(child);
      }
    });
    seconds.push((performance.now() - t0) / 1000);
    for (const child of children) child.kill();
  }
  return { system: 'plain processes (floor)', seconds, note: 'no queue: each process is handed the next job' };
}

async function peer(system: 'graphile-worker' | 'pg-boss', plan: CpuPlan, send: Send): Promise<CpuRow> {
  const schema = `bench_cpu_${system === 'pg-boss' ? 'pgboss' : 'graphile'}_${randomBytes(3).toString('hex')}`;
  const queue = 'sha';
  const seconds: number[] = [];
  let insert: (count: number, rounds: number) => Promise<void>;
  let close: () => Promise<void>;
  if (system === 'graphile-worker') {
    const utils = await makeWorkerUtils({ connectionString: plan.databaseUrl, schema });
    await utils.migrate();
    insert = async (count, rounds) => {
      await utils.addJobs(Array.from({ length: count }, (_, key) => ({ identifier: queue, payload: { key, rounds } })));
    };
    close = async () => {
      await utils.release();
    };
  } else {
    const boss = new PgBoss({ connectionString: plan.databaseUrl, schema });
    boss.on('error', (error) => console.error(`pg-boss: ${error.message}`));
    await boss.start();
    await boss.createQueue(queue);
    insert = async (count, rounds) => {
      await boss.insert(Array.from({ length: count }, (_, key) => ({ name: queue, data: { key, rounds } })));
    };
    close = () => boss.stop({ graceful: false, wait: true });
  }
  let timedOut = false;
  try {
    for (const processes of plan.processes) {
      send({ type: 'step', label: `CPU ${system}: ${plan.jobs} jobs, ${processes} worker process(es)` });
      const args = [system, plan.databaseUrl, schema, queue, String(plan.concurrency)];
      const workers = await Promise.all(
        Array.from({ length: processes }, () => startChild(path.join(__dirname, 'cpu-peer-worker.ts'), args)),
      );
      let done = 0;
      const t0 = performance.now();
      const finished = new Promise<void>((resolve) => {
        for (const worker of workers) {
          worker.on('message', (m: { type: string }) => {
            if (m.type !== 'job') return;
            send({ type: 'progress', fraction: ++done / plan.jobs });
            if (done === plan.jobs) resolve();
          });
        }
      });
      await insert(plan.jobs, plan.rounds);
      const boxed = await Promise.race([
        finished.then(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(true), plan.timeboxMs).unref()),
      ]);
      const elapsed = (performance.now() - t0) / 1000;
      // A time-boxed run is reported as the time the whole batch would take at the rate reached.
      seconds.push(boxed ? elapsed * (plan.jobs / Math.max(1, done)) : elapsed);
      timedOut ||= boxed;
      await Promise.all(workers.map((w) => stopChild(w)));
      await clearJobs(plan.databaseUrl, schema, system);
    }
  } finally {
    await close();
    await dropSchema(plan.databaseUrl, schema);
  }
  const settings =
    system === 'graphile-worker'
      ? `run({ concurrency: ${plan.concurrency} }) per process`
      : `work({ batchSize: ${plan.concurrency} }) per process, polling every 2 s`;
  return {
    system,
    seconds,
    note: settings + (timedOut ? `; time-boxed at ${plan.timeboxMs / 1000} s, extrapolated from the rate reached` : ''),
  };
}

function startChild(file: string, args: string[]): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = fork(file, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.once('error', reject);
    child.on('message', function ready(m: { type: string }) {
      if (m.type === 'ready') {
        child.off('message', ready);
        resolve(child);
      }
    });
    child.once('exit', (code) =>
      reject(new Error(`bench: ${path.basename(file)} exited with ${code} before it was ready`)),
    );
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.send({ type: 'stop' });
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function clearJobs(url: string, schema: string, system: string): Promise<unknown> {
  return withClient(url, (c) =>
    c.query(system === 'pg-boss' ? `DELETE FROM "${schema}".job` : `TRUNCATE "${schema}"._private_jobs CASCADE`),
  );
}

function dropSchema(url: string, schema: string): Promise<unknown> {
  return withClient(url, (c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
