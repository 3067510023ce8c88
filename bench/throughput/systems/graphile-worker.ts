import type { Runner, WorkerUtils } from 'graphile-worker';
import { uniqueSchema } from '../../common/database';
import { type GraphileSetting, graphileSettings, graphileUtils, runGraphileWorker } from '../../common/graphile-worker';
import { SchemaObserver } from '../observer';
import type { JobArgs, Lane, OnJob, ProducerSide, WorkerPlan, WorkerSide } from '../system';

const TASK = 'noop';

/** The inserting side: WorkerUtils (addJobs, addJob); its inserts NOTIFY the worker process. */
export class GraphileWorkerProducer implements ProducerSide {
  readonly settings: string;
  readonly pollCycleMs = 0;
  readonly completedRows = 'deleted on completion';
  readonly location = uniqueSchema('bench_graphile');
  private readonly observer: SchemaObserver;
  private utils: WorkerUtils | undefined;

  constructor(
    private readonly url: string,
    setting: GraphileSetting,
  ) {
    this.settings = graphileSettings(setting);
    this.observer = new SchemaObserver(url, 'graphile-worker', this.location);
  }

  async setup(): Promise<void> {
    this.utils = await graphileUtils(this.url, this.location);
  }

  async insertBulk(from: number, count: number): Promise<void> {
    const specs = Array.from({ length: count }, (_, i) => ({ identifier: TASK, payload: { key: from + i } }));
    await this.utils!.addJobs(specs);
  }

  async insertOne(key: number, lane: Lane): Promise<void> {
    if (lane !== 'main') throw new Error('bench: graphile-worker runs one queue here');
    await this.utils!.addJob(TASK, { key, probe: 1 });
  }

  remaining(): Promise<number> {
    return this.observer.remaining();
  }

  async clear(): Promise<void> {
    await this.observer.query(`TRUNCATE "${this.location}"._private_jobs CASCADE`);
  }

  async teardown(): Promise<void> {
    await this.utils?.release();
    await this.observer.drop();
  }
}

export class GraphileWorkerWorkers implements WorkerSide {
  private runner: Runner | undefined;
  private concurrency = 10;

  constructor(
    private readonly url: string,
    private readonly schema: string,
    private readonly setting: GraphileSetting,
    private readonly onJob: OnJob,
  ) {}

  async prepare(plan: WorkerPlan): Promise<void> {
    this.concurrency = plan.concurrency;
  }

  async start(): Promise<void> {
    this.runner = await runGraphileWorker(
      this.url,
      this.schema,
      this.concurrency,
      {
        [TASK]: async (payload) => {
          const args = payload as JobArgs;
          this.onJob(args.key, args.probe === 1);
        },
      },
      this.setting,
    );
  }

  async stop(): Promise<void> {
    await this.runner?.stop();
    this.runner = undefined;
  }

  close(): Promise<void> {
    return this.stop();
  }
}
