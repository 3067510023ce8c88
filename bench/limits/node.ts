/**
 * One node of the limits benchmark, in its own OS process: nest-oban at its
 * defaults running queue 'bench' (no-op jobs) with the queue options given as
 * JSON in argv[3], the queue paused until the parent resumes it.
 */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type Job, ObanModule, Worker } from '../../lib';
import { serveParent } from '../common/worker-process';

const [url, prefix, queueJson] = process.argv.slice(2);

@Worker({ queue: 'bench' })
class NoopWorker {
  perform(_job: Job) {}
}

async function main(): Promise<void> {
  @Module({
    imports: [
      ObanModule.forRoot({ connection: url, prefix, queues: { bench: { ...JSON.parse(queueJson), paused: true } } }),
    ],
    providers: [NoopWorker],
  })
  class LimitsNodeModule {}
  const app = await NestFactory.createApplicationContext(LimitsNodeModule, { logger: ['error', 'warn'] });
  serveParent(() => app.close());
}

void main();
