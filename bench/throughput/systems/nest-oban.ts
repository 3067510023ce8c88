import 'reflect-metadata';
import { type INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Registry } from 'prom-client';
import { type Job, Oban, ObanEvents, ObanModule, Worker } from '../../../lib';
import { ObanMetricsModule } from '../../../lib/metrics';
import { uniqueSchema } from '../../common/database';
import { SchemaObserver } from '../observer';
import type { BenchSystem } from '../system';

let onJob: (key: number) => void = () => undefined;

@Worker({ queue: 'bench' })
class NoopWorker {
  perform(job: Job<{ key: number }>) {
    onJob(job.args.key);
  }
}

@Module({ providers: [NoopWorker] })
class NoopModule {}

/**
 * nest-oban at its defaults: `forRoot({ connection, prefix, migrate, queues })`
 * and nothing else. One Nest application context per concurrency, booted with
 * the queue paused so the jobs can be stored first; the drain starts at
 * `resumeQueue`.
 */
export class NestObanSystem implements BenchSystem {
  readonly name = 'nest-oban';
  readonly settings = 'forRoot defaults (pool 10, stageInterval 1 s); queue limit = concurrency';
  readonly pollCycleMs = 0;
  readonly completedRows = 'kept (state completed, with result)';
  private readonly prefix = uniqueSchema('bench_oban');
  private readonly observer: SchemaObserver;
  private app: INestApplicationContext | undefined;
  /** The next boot adds a `job.stop` listener and `ObanMetricsModule` (on a registry of its own). */
  observed = false;
  /** Completed jobs the listener saw. */
  stopped = 0;

  constructor(private readonly url: string) {
    this.observer = new SchemaObserver(url, 'nest-oban', this.prefix);
  }

  private get oban(): Oban {
    return this.app!.get(Oban);
  }

  async setup(callback: (key: number) => void): Promise<void> {
    onJob = callback;
    await this.boot({ bench: { limit: 10, paused: true } });
  }

  async insertBulk(from: number, count: number): Promise<void> {
    const entries = Array.from({ length: count }, (_, i) => ({ worker: NoopWorker, args: { key: from + i } }));
    await this.oban.insertAll(entries);
  }

  async insertOne(key: number): Promise<void> {
    await this.oban.insert(NoopWorker, { key });
  }

  async prepareWorkers(concurrency: number): Promise<void> {
    await this.boot({ bench: { limit: concurrency, paused: true } });
  }

  async startWorkers(): Promise<void> {
    await this.oban.resumeQueue('bench');
  }

  async stopWorkers(): Promise<void> {
    await this.oban.pauseQueue('bench');
  }

  remaining(): Promise<number> {
    return this.observer.remaining();
  }

  async clear(): Promise<void> {
    await this.observer.query(`TRUNCATE "${this.prefix}".oban_jobs`);
  }

  async teardown(): Promise<void> {
    await this.app?.close();
    this.app = undefined;
    await this.observer.drop();
  }

  /** Replaces the running app with one whose queue has the given settings. */
  private async boot(queues: Record<string, { limit: number; paused: boolean }>): Promise<void> {
    await this.app?.close();
    const observed = this.observed ? [ObanMetricsModule.forRoot({ registry: new Registry() })] : [];
    @Module({
      imports: [
        ObanModule.forRoot({ connection: this.url, prefix: this.prefix, migrate: true, queues }),
        NoopModule,
        ...observed,
      ],
    })
    class BenchRootModule {}
    this.app = await NestFactory.createApplicationContext(BenchRootModule, { logger: ['error', 'warn'] });
    if (this.observed) {
      this.app.get(ObanEvents).on('job.stop', (e) => {
        if (e.state === 'completed') this.stopped++;
      });
    }
  }
}
