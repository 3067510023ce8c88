import 'reflect-metadata';
import { type INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Registry } from 'prom-client';
import { type Job, Oban, ObanEvents, ObanModule, Worker } from '../../../lib';
import { buildStatements } from '../../../lib/db/statements';
import { ObanMetricsModule } from '../../../lib/metrics';
import { uniqueSchema } from '../../common/database';
import { SchemaObserver } from '../observer';
import type { JobArgs, Lane, OnJob, ProducerSide, WorkerPlan, WorkerSide } from '../system';

export const MAIN_QUEUE = 'bench';
export const SIDE_QUEUE = 'probe';

let onJob: OnJob = () => undefined;

@Worker({ queue: MAIN_QUEUE })
class NoopWorker {
  perform(job: Job<JobArgs>) {
    onJob(job.args.key, job.args.probe === 1);
  }
}

@Worker({ queue: SIDE_QUEUE })
class ProbeWorker {
  perform(job: Job<JobArgs>) {
    onJob(job.args.key, job.args.probe === 1);
  }
}

@Module({ providers: [NoopWorker, ProbeWorker] })
class NoopModule {}

type Queues = Record<string, { limit: number; paused: boolean }>;

/** A Nest application context with nest-oban at its defaults: `forRoot({ connection, prefix, migrate, queues })`. */
async function boot(url: string, prefix: string, queues: Queues, observed = false): Promise<INestApplicationContext> {
  const metrics = observed ? [ObanMetricsModule.forRoot({ registry: new Registry() })] : [];
  @Module({
    imports: [ObanModule.forRoot({ connection: url, prefix, migrate: true, queues }), NoopModule, ...metrics],
  })
  class BenchRootModule {}
  return NestFactory.createApplicationContext(BenchRootModule, { logger: ['error', 'warn'] });
}

/** The inserting side: a node that runs no queue (its inserts reach the worker node by notification). */
export class NestObanProducer implements ProducerSide {
  readonly settings = 'forRoot defaults (pool 10, stageInterval 1 s); queue limit = concurrency';
  readonly pollCycleMs = 0;
  readonly completedRows = 'kept (state completed, with result)';
  readonly location = uniqueSchema('bench_oban');
  private readonly observer: SchemaObserver;
  private app: INestApplicationContext | undefined;

  constructor(private readonly url: string) {
    this.observer = new SchemaObserver(url, 'nest-oban', this.location);
  }

  private get oban(): Oban {
    return this.app!.get(Oban);
  }

  async setup(): Promise<void> {
    this.app = await boot(this.url, this.location, {});
  }

  async insertBulk(from: number, count: number): Promise<void> {
    const entries = Array.from({ length: count }, (_, i) => ({ worker: NoopWorker, args: { key: from + i } }));
    await this.oban.insertAll(entries);
  }

  async insertOne(key: number, lane: Lane): Promise<void> {
    await this.oban.insert(lane === 'main' ? NoopWorker : ProbeWorker, { key, probe: 1 });
  }

  remaining(): Promise<number> {
    return this.observer.remaining();
  }

  async clear(): Promise<void> {
    await this.observer.query(`TRUNCATE "${this.location}".oban_jobs`);
  }

  async teardown(): Promise<void> {
    await this.app?.close();
    this.app = undefined;
    await this.observer.drop();
  }

  /**
   * The scale step's table: `completed` rows in state completed (the history
   * a busy queue keeps) and `available` jobs (keys 0..available-1), all on the
   * main queue, stored by generate_series straight into oban_jobs as copies of
   * one job the library inserted (so worker and args are its own), then
   * VACUUM ANALYZE, as autovacuum would leave the table.
   */
  async fillForScale(completed: number, available: number): Promise<void> {
    await this.clear();
    await this.oban.insert(NoopWorker, { key: -1 });
    const jobs = `"${this.location}".oban_jobs`;
    const template = `(SELECT queue, worker, max_attempts FROM ${jobs} LIMIT 1) t`;
    const past = `now() - interval '2 days' + g * interval '1 ms'`;
    await this.observer.query(
      `INSERT INTO ${jobs} (state, queue, worker, args, attempt, max_attempts, inserted_at, scheduled_at,
                            attempted_at, attempted_by, completed_at)
       SELECT 'completed', t.queue, t.worker, jsonb_build_object('key', -1 - g), 1, t.max_attempts, ${past}, ${past},
              ${past}, ARRAY['bench-history'], ${past}
       FROM ${template}, generate_series(1, $1::int) g`,
      [completed],
    );
    await this.observer.query(
      `INSERT INTO ${jobs} (state, queue, worker, args, max_attempts)
       SELECT 'available', t.queue, t.worker, jsonb_build_object('key', g), t.max_attempts
       FROM ${template}, generate_series(0, $1::int - 1) g`,
      [available],
    );
    await this.observer.query(`DELETE FROM ${jobs} WHERE args = '{"key": -1}'`);
    await this.observer.query(`VACUUM (ANALYZE) ${jobs}`);
  }

  /**
   * EXPLAIN (ANALYZE) of the producer's claim, the `fetchJobs` statement of
   * lib/db/statements.ts as buildStatements builds it for this schema, for
   * `limit` jobs of the main queue, inside a transaction rolled back (so it
   * claims nothing). Returns the execution time and the plan's node types.
   */
  async explainFetch(limit: number): Promise<{ ms: number; nodes: string[] }> {
    const fetch = buildStatements(this.location).fetchJobs;
    return this.observer.withClient(async (client) => {
      await client.query('BEGIN');
      try {
        const { rows } = await client.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${fetch.text}`, [
          MAIN_QUEUE,
          limit,
          'bench-explain',
        ]);
        const [top] = rows[0]['QUERY PLAN'] as [{ 'Execution Time': number; Plan: PlanNode }];
        return { ms: top['Execution Time'], nodes: planNodes(top.Plan) };
      } finally {
        await client.query('ROLLBACK');
      }
    });
  }
}

type PlanNode = { 'Node Type': string; 'Index Name'?: string; Plans?: PlanNode[] };

/** The plan's nodes, depth first, as "Index Only Scan (index)" or "Seq Scan". */
function planNodes(node: PlanNode): string[] {
  const own = node['Index Name'] ? `${node['Node Type']} (${node['Index Name']})` : node['Node Type'];
  return [own, ...(node.Plans ?? []).flatMap(planNodes)];
}

/**
 * The worker side: one Nest application context per batch, booted with its
 * queue paused so the jobs can be stored first; the drain starts at
 * `resumeQueue`.
 */
export class NestObanWorkers implements WorkerSide {
  private app: INestApplicationContext | undefined;
  private queues: string[] = [];

  constructor(
    private readonly url: string,
    private readonly prefix: string,
    callback: OnJob,
  ) {
    onJob = callback;
  }

  private get oban(): Oban {
    return this.app!.get(Oban);
  }

  async prepare(plan: WorkerPlan): Promise<void> {
    await this.close();
    const queues: Queues = { [MAIN_QUEUE]: { limit: plan.concurrency, paused: true } };
    if (plan.side) queues[SIDE_QUEUE] = { limit: 10, paused: true };
    this.queues = Object.keys(queues);
    this.app = await boot(this.url, this.prefix, queues, plan.observed);
    if (plan.observed) this.app.get(ObanEvents).on('job.stop', () => undefined);
  }

  async start(): Promise<void> {
    await Promise.all(this.queues.map((q) => this.oban.resumeQueue(q)));
  }

  async stop(): Promise<void> {
    await Promise.all(this.queues.map((q) => this.oban.pauseQueue(q)));
  }

  async close(): Promise<void> {
    await this.app?.close();
    this.app = undefined;
  }
}
