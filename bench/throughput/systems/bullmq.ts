import { randomBytes } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { redisConnection } from '../../common/redis';
import type { JobArgs, Lane, OnJob, ProducerSide, WorkerPlan, WorkerSide } from '../system';

const QUEUE = 'noop';

/** BullMQ on Redis: the producer side is a Queue (addBulk, add) under a key prefix of this run's own. */
export class BullMqProducer implements ProducerSide {
  readonly settings =
    'new Queue() / new Worker(processor, { concurrency }) defaults, on Redis; key prefix of its own per run';
  readonly pollCycleMs = 0;
  readonly completedRows = 'kept (removeOnComplete off by default)';
  readonly location = `bench_bull_${randomBytes(3).toString('hex')}`;
  private queue: Queue | undefined;

  async setup(): Promise<void> {
    this.queue = new Queue(QUEUE, { connection: redisConnection(), prefix: this.location });
    await this.queue.waitUntilReady();
  }

  async insertBulk(from: number, count: number): Promise<void> {
    // addBulk sends one MULTI; a 20,000-job one is fine for Redis.
    const jobs = Array.from({ length: count }, (_, i) => ({ name: QUEUE, data: { key: from + i } }));
    await this.queue!.addBulk(jobs);
  }

  async insertOne(key: number, lane: Lane): Promise<void> {
    if (lane !== 'main') throw new Error('bench: BullMQ runs one queue here');
    await this.queue!.add(QUEUE, { key, probe: 1 });
  }

  async remaining(): Promise<number> {
    const counts = await this.queue!.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'waiting-children');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  }

  async clear(): Promise<void> {
    await this.queue!.obliterate({ force: true });
  }

  async teardown(): Promise<void> {
    if (!this.queue) return;
    await this.queue.obliterate({ force: true });
    await this.queue.close();
    this.queue = undefined;
  }
}

export class BullMqWorkers implements WorkerSide {
  private worker: Worker | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly prefix: string,
    private readonly onJob: OnJob,
  ) {}

  /** Connects a worker that does not run yet (autorun off). */
  async prepare(plan: WorkerPlan): Promise<void> {
    await this.close();
    this.worker = new Worker<JobArgs>(
      QUEUE,
      async (job) => {
        this.onJob(job.data.key, job.data.probe === 1);
      },
      { connection: redisConnection(), prefix: this.prefix, concurrency: plan.concurrency, autorun: false },
    );
    this.worker.on('error', (error) => console.error(`bullmq: ${error.message}`));
    await this.worker.waitUntilReady();
  }

  async start(): Promise<void> {
    this.running = this.worker!.run();
  }

  async stop(): Promise<void> {
    await this.worker?.close();
    await this.running;
    this.worker = undefined;
    this.running = undefined;
  }

  close(): Promise<void> {
    return this.stop();
  }
}
