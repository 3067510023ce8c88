import type PgBoss from 'pg-boss';
import { uniqueSchema } from '../../common/database';
import { startPgBoss, stopPgBoss } from '../../common/pg-boss';
import { SchemaObserver } from '../observer';
import type { BenchSystem } from '../system';

/**
 * pg-boss at its defaults (polling every 2 s, no notifications). Concurrency N
 * is one `work()` loop fetching `batchSize: N` jobs per poll and running them
 * together: pg-boss 10 has no other concurrency setting (calling `work()` N
 * times with batchSize 1 polls at the same rate, one job per loop per poll).
 */
export class PgBossSystem implements BenchSystem {
  readonly name = 'pg-boss';
  readonly settings = 'new PgBoss() defaults (pollingIntervalSeconds 2); work({ batchSize: concurrency })';
  readonly pollCycleMs = 2_000;
  readonly completedRows = 'kept (state completed), archived after 12 h';
  private readonly schema = uniqueSchema('bench_pgboss');
  private readonly queue = 'noop';
  private readonly observer: SchemaObserver;
  private boss: PgBoss | undefined;
  private concurrency = 10;
  private onJob: (key: number) => void = () => undefined;

  constructor(private readonly url: string) {
    this.observer = new SchemaObserver(url, 'pg-boss', this.schema);
  }

  async setup(onJob: (key: number) => void): Promise<void> {
    this.onJob = onJob;
    this.boss = await startPgBoss(this.url, this.schema);
    await this.boss.createQueue(this.queue);
  }

  async insertBulk(from: number, count: number): Promise<void> {
    const jobs = Array.from({ length: count }, (_, i) => ({ name: this.queue, data: { key: from + i } }));
    await this.boss!.insert(jobs);
  }

  async insertOne(key: number): Promise<void> {
    await this.boss!.send(this.queue, { key });
  }

  async prepareWorkers(concurrency: number): Promise<void> {
    this.concurrency = concurrency;
  }

  async startWorkers(): Promise<void> {
    await this.boss!.work<{ key: number }>(this.queue, { batchSize: this.concurrency }, async (jobs) => {
      await Promise.all(jobs.map(async (job) => this.onJob(job.data.key)));
    });
  }

  async stopWorkers(): Promise<void> {
    await this.boss!.offWork(this.queue);
  }

  remaining(): Promise<number> {
    return this.observer.remaining();
  }

  async clear(): Promise<void> {
    await this.observer.query(`DELETE FROM "${this.schema}".job WHERE name = $1`, [this.queue]);
  }

  async teardown(): Promise<void> {
    if (this.boss) await stopPgBoss(this.boss);
    await this.observer.drop();
  }
}
