import { randomBytes } from 'node:crypto';
import { Logger, type Runner, type WorkerUtils, makeWorkerUtils, run } from 'graphile-worker';
import { Pool } from 'pg';
import type { BenchSystem } from '../system';

const silent = new Logger(() => () => undefined);

/**
 * graphile-worker at its defaults (LISTEN/NOTIFY, pollInterval 2 s) but for
 * `concurrency`, and `maxPoolSize` raised to the concurrency when it is above
 * the default 10, as graphile-worker's own start-up warning asks.
 */
export class GraphileWorkerSystem implements BenchSystem {
  readonly name = 'graphile-worker';
  readonly settings = 'run({ concurrency }) defaults; maxPoolSize = max(10, concurrency) per its warning';
  readonly pollCycleMs = 0;
  readonly completedRows = 'deleted on completion';
  private readonly schema = `bench_graphile_${randomBytes(3).toString('hex')}`;
  private readonly observer: Pool;
  private utils: WorkerUtils | undefined;
  private runner: Runner | undefined;
  private concurrency = 10;
  private onJob: (key: number) => void = () => undefined;

  constructor(private readonly url: string) {
    this.observer = new Pool({ connectionString: url, max: 2 });
  }

  async setup(onJob: (key: number) => void): Promise<void> {
    this.onJob = onJob;
    this.utils = await makeWorkerUtils({ connectionString: this.url, schema: this.schema, logger: silent });
    await this.utils.migrate();
  }

  async insertBulk(from: number, count: number): Promise<void> {
    const specs = Array.from({ length: count }, (_, i) => ({ identifier: 'noop', payload: { key: from + i } }));
    await this.utils!.addJobs(specs);
  }

  async insertOne(key: number): Promise<void> {
    await this.utils!.addJob('noop', { key });
  }

  async prepareWorkers(concurrency: number): Promise<void> {
    this.concurrency = concurrency;
  }

  async startWorkers(): Promise<void> {
    this.runner = await run({
      connectionString: this.url,
      schema: this.schema,
      concurrency: this.concurrency,
      maxPoolSize: Math.max(10, this.concurrency),
      noHandleSignals: true,
      logger: silent,
      taskList: {
        noop: async (payload) => {
          this.onJob((payload as { key: number }).key);
        },
      },
    });
  }

  async stopWorkers(): Promise<void> {
    await this.runner?.stop();
    this.runner = undefined;
  }

  async remaining(): Promise<number> {
    const { rows } = await this.observer.query(`SELECT count(*)::int AS n FROM "${this.schema}"._private_jobs`);
    return rows[0].n;
  }

  async clear(): Promise<void> {
    await this.observer.query(`TRUNCATE "${this.schema}"._private_jobs CASCADE`);
  }

  async teardown(): Promise<void> {
    await this.stopWorkers();
    await this.utils?.release();
    await this.observer.query(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`);
    await this.observer.end();
  }
}
