import { randomBytes } from 'node:crypto';
import PgBoss from 'pg-boss';
import { Pool } from 'pg';
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
  private readonly schema = `bench_pgboss_${randomBytes(3).toString('hex')}`;
  private readonly queue = 'noop';
  private readonly observer: Pool;
  private boss: PgBoss | undefined;
  private concurrency = 10;
  private onJob: (key: number) => void = () => undefined;

  constructor(private readonly url: string) {
    this.observer = new Pool({ connectionString: url, max: 2 });
  }

  async setup(onJob: (key: number) => void): Promise<void> {
    this.onJob = onJob;
    this.boss = new PgBoss({ connectionString: this.url, schema: this.schema });
    this.boss.on('error', (error) => console.error(`pg-boss: ${error.message}`));
    await this.boss.start();
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

  async remaining(): Promise<number> {
    const { rows } = await this.observer.query(
      `SELECT count(*)::int AS n FROM "${this.schema}".job WHERE name = $1 AND state < 'completed'`,
      [this.queue],
    );
    return rows[0].n;
  }

  async clear(): Promise<void> {
    await this.observer.query(`DELETE FROM "${this.schema}".job WHERE name = $1`, [this.queue]);
  }

  async teardown(): Promise<void> {
    await this.boss?.stop({ graceful: false, wait: true });
    await this.observer.query(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`);
    await this.observer.end();
  }
}
