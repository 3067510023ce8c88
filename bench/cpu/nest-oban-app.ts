/**
 * nest-oban's side of the CPU benchmark: the app run-nest-oban.ts boots. Its
 * worker processes boot the module with the `cpu: true` workers from here.
 */
import 'reflect-metadata';
import { Inject, Injectable, type INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type Job, ObanModule, type ObanModuleOptions, Worker } from '../../lib';
import { type JsonArgs, jsonJob } from './json-job';
import { type ShaArgs, shaJob } from './sha-job';

export const CPU_QUEUE = 'bench_cpu';

/** A provider the worker depends on, so that a worker process builds a real dependency graph. */
@Injectable()
export class Hasher {
  run(args: ShaArgs): string {
    return shaJob(args.hashes, args.key);
  }
}

@Worker({ queue: CPU_QUEUE, cpu: true })
export class ShaJobWorker {
  constructor(@Inject(Hasher) private readonly hasher: Hasher) {}
  perform(job: Job<ShaArgs>) {
    return { digest: this.hasher.run(job.args) };
  }
}

/** The allocation-heavy job (json-job.ts). */
@Worker({ queue: CPU_QUEUE, cpu: true })
export class JsonJobWorker {
  perform(job: Job<JsonArgs>) {
    return { length: jsonJob(job.args.rounds, job.args.key) };
  }
}

/** Measures what it costs to hand a job to a worker process and get its outcome back. */
@Worker({ queue: CPU_QUEUE, cpu: true })
export class NoopCpuWorker {
  perform() {
    return null;
  }
}

@Module({ providers: [Hasher, ShaJobWorker, JsonJobWorker, NoopCpuWorker] })
export class BenchCpuModule {}

/** The options of the app about to boot (one app per driver process). */
const current: { options: ObanModuleOptions } = { options: {} };

@Module({ imports: [ObanModule.forRootAsync({ useFactory: () => current.options }), BenchCpuModule] })
export class BenchCpuAppModule {}

export function bootCpuApp(options: ObanModuleOptions): Promise<INestApplicationContext> {
  current.options = options;
  return NestFactory.createApplicationContext(BenchCpuAppModule, { logger: ['error', 'warn'] });
}
