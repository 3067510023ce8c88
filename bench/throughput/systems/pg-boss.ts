import type { Job, PgBoss } from 'pg-boss';
import { uniqueSchema } from '../../common/database';
import {
  PG_BOSS_TUNED_BATCH,
  type PgBossSetting,
  createPgBossQueue,
  pgBossWorkOptions,
  startPgBoss,
  stopPgBoss,
} from '../../common/pg-boss';
import { SchemaObserver } from '../observer';
import type { JobArgs, Lane, OnJob, ProducerSide, WorkerPlan, WorkerSide } from '../system';

const QUEUE = 'noop';

export function pgBossSettings(setting: PgBossSetting): string {
  return setting === 'tuned'
    ? `new PgBoss({ useListenNotify: true }), createQueue({ notify: true }), work({ batchSize: ${PG_BOSS_TUNED_BATCH}, ` +
        `burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 }), each batch run <concurrency> jobs at a time`
    : 'new PgBoss() defaults (pollingIntervalSeconds 2, no notifications); work({ localConcurrency: concurrency }), batchSize 1';
}

/** The inserting side: a PgBoss instance of its own (insert, send). */
export class PgBossProducer implements ProducerSide {
  readonly settings: string;
  readonly pollCycleMs: number;
  readonly completedRows = 'kept (state completed)';
  readonly location = uniqueSchema('bench_pgboss');
  private readonly observer: SchemaObserver;
  private boss: PgBoss | undefined;

  constructor(
    private readonly url: string,
    private readonly setting: PgBossSetting,
  ) {
    this.settings = pgBossSettings(setting);
    // The tuned worker is woken by NOTIFY; the default one polls every 2 s.
    this.pollCycleMs = setting === 'tuned' ? 0 : 2_000;
    this.observer = new SchemaObserver(url, 'pg-boss', this.location);
  }

  async setup(): Promise<void> {
    this.boss = await startPgBoss(this.url, this.location);
    await createPgBossQueue(this.boss, QUEUE, this.setting);
  }

  async insertBulk(from: number, count: number): Promise<void> {
    const jobs = Array.from({ length: count }, (_, i) => ({ data: { key: from + i } }));
    await this.boss!.insert(QUEUE, jobs);
  }

  async insertOne(key: number, lane: Lane): Promise<void> {
    if (lane !== 'main') throw new Error('bench: pg-boss runs one queue here');
    await this.boss!.send(QUEUE, { key, probe: 1 });
  }

  remaining(): Promise<number> {
    return this.observer.remaining();
  }

  async clear(): Promise<void> {
    await this.observer.query(`DELETE FROM "${this.location}".job WHERE name = $1`, [QUEUE]);
  }

  async teardown(): Promise<void> {
    if (this.boss) await stopPgBoss(this.boss);
    await this.observer.drop();
  }
}

export class PgBossWorkers implements WorkerSide {
  private boss: PgBoss | undefined;
  private concurrency = 10;

  constructor(
    private readonly url: string,
    private readonly schema: string,
    private readonly setting: PgBossSetting,
    private readonly onJob: OnJob,
  ) {}

  async prepare(plan: WorkerPlan): Promise<void> {
    this.concurrency = plan.concurrency;
    this.boss ??= await startPgBoss(this.url, this.schema, this.setting);
  }

  async start(): Promise<void> {
    const n = this.concurrency;
    await this.boss!.work<JobArgs>(QUEUE, pgBossWorkOptions(this.setting, n), async (jobs: Job<JobArgs>[]) => {
      // A fetched batch runs `concurrency` jobs at a time.
      for (let i = 0; i < jobs.length; i += n) {
        await Promise.all(jobs.slice(i, i + n).map(async (job) => this.onJob(job.data.key, job.data.probe === 1)));
      }
    });
  }

  async stop(): Promise<void> {
    await this.boss?.offWork(QUEUE, { wait: true });
  }

  async close(): Promise<void> {
    if (this.boss) await stopPgBoss(this.boss);
    this.boss = undefined;
  }
}
