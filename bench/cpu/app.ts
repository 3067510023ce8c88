import 'reflect-metadata';
import { Inject, Injectable, Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ObanModule, Worker, type Job, type ObanModuleOptions } from '../../lib';
import { shaChain } from './sha-chain';

@Injectable()
export class Chainer {
  run(rounds: number, seed: string) {
    return shaChain(rounds, seed);
  }
}

@Worker({ queue: 'bench_cpu', cpu: true })
export class ShaChainWorker {
  constructor(@Inject(Chainer) private readonly chainer: Chainer) {}
  perform(job: Job<{ rounds: number; seed: string }>) {
    return { digest: this.chainer.run(job.args.rounds, job.args.seed) };
  }
}

/** Measures what it costs to hand a job to a worker process and get its outcome back. */
@Worker({ queue: 'bench_cpu', cpu: true })
export class NoopCpuWorker {
  perform() {
    return null;
  }
}

@Module({ providers: [Chainer, ShaChainWorker, NoopCpuWorker] })
export class BenchCpuModule {}

export const benchOptions: { current: ObanModuleOptions } = { current: {} };

@Module({ imports: [ObanModule.forRootAsync({ useFactory: () => benchOptions.current }), BenchCpuModule] })
export class BenchCpuAppModule {}

export async function bootBenchApp(options: ObanModuleOptions): Promise<INestApplicationContext> {
  benchOptions.current = options;
  return NestFactory.createApplicationContext(BenchCpuAppModule, { logger: ['error', 'warn'] });
}
