/**
 * One nest-oban node in an OS process of its own, for failover.ts: runs queue
 * 'slow', whose jobs wait until aborted (or `args.ms`), with the default
 * cluster settings. Reports ready, then each change of its leadership as
 * `Oban.isLeader()` shows it, checked every 5 ms: a new leader takes
 * seconds, so 5 ms is within the spread of what is measured.
 * argv: NodeSettings as JSON.
 */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type Job, Oban, ObanModule, type PerformContext, Worker } from '../../lib';
import { serveParent } from '../common/worker-process';
import type { NodeSettings } from './nodes';

@Worker({ queue: 'slow' })
class SlowWorker {
  perform(job: Job<{ ms: number }>, { signal }: PerformContext): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, job.args.ms);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

async function main(): Promise<void> {
  const settings = JSON.parse(process.argv[2]) as NodeSettings;
  @Module({
    imports: [
      ObanModule.forRoot({
        connection: settings.databaseUrl,
        prefix: settings.prefix,
        node: settings.node,
        migrate: true,
        queues: { slow: 4 },
      }),
    ],
    providers: [SlowWorker],
  })
  class NodeModule {}

  const app = await NestFactory.createApplicationContext(NodeModule, { logger: ['error', 'warn'] });
  const oban = app.get(Oban);
  serveParent(() => app.close());
  let leader = false;
  setInterval(() => {
    if (oban.isLeader() === leader) return;
    leader = !leader;
    process.send!({ type: 'leader', leader, at: Date.now() });
  }, 5);
}

main().catch((error) => {
  console.error('bench node failed to start:', error);
  process.exit(1);
});
