import type { Runner, WorkerUtils } from 'graphile-worker';
import { uniqueSchema } from '../../common/database';
import { graphileUtils, runGraphileWorker } from '../../common/graphile-worker';
import { SchemaObserver } from '../observer';
import type { BenchSystem } from '../system';

/** graphile-worker at its defaults but for `concurrency` (see common/graphile-worker.ts). */
export class GraphileWorkerSystem implements BenchSystem {
  readonly name = 'graphile-worker';
  readonly settings = 'run({ concurrency }) defaults; maxPoolSize = max(10, concurrency) per its warning';
  readonly pollCycleMs = 0;
  readonly completedRows = 'deleted on completion';
  private readonly schema = uniqueSchema('bench_graphile');
  private readonly observer: SchemaObserver;
  private utils: WorkerUtils | undefined;
  private runner: Runner | undefined;
  private concurrency = 10;
  private onJob: (key: number) => void = () => undefined;

  constructor(private readonly url: string) {
    this.observer = new SchemaObserver(url, 'graphile-worker', this.schema);
  }

  async setup(onJob: (key: number) => void): Promise<void> {
    this.onJob = onJob;
    this.utils = await graphileUtils(this.url, this.schema);
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
    this.runner = await runGraphileWorker(this.url, this.schema, this.concurrency, {
      noop: async (payload) => {
        this.onJob((payload as { key: number }).key);
      },
    });
  }

  async stopWorkers(): Promise<void> {
    await this.runner?.stop();
    this.runner = undefined;
  }

  remaining(): Promise<number> {
    return this.observer.remaining();
  }

  async clear(): Promise<void> {
    await this.observer.query(`TRUNCATE "${this.schema}"._private_jobs CASCADE`);
  }

  async teardown(): Promise<void> {
    await this.stopWorkers();
    await this.utils?.release();
    await this.observer.drop();
  }
}
