/**
 * One nest-oban node in its own OS process, for multi-node tests. The parent
 * forks it (see cluster.ts) with its settings in env OBAN_TEST_NODE and talks
 * over IPC: the child reports 'ready' and every leadership change, and obeys
 * { cmd: 'stop' } (graceful shutdown, then exit).
 *
 * Workers:
 * - RecordWorker (queue 'default'): writes each run to `runs` (job, node,
 *   start and end by the machine clock) and sleeps args.ms.
 * - SlowWorker (queue 'slow'): waits until its AbortSignal fires (or args.ms),
 *   and records the abort reason in `aborts`.
 */
import 'reflect-metadata';
import { Global, Injectable, Module, type OnModuleDestroy } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Pool } from 'pg';
import { ObanModule, Worker, type Job, type ObanModuleOptions, type PerformContext } from '../../lib';
import type { ObanConfig } from '../../lib/config/config';
import { ObanRuntime } from '../../lib/oban.runtime';
import { OBAN_CONFIG } from '../../lib/oban.tokens';
import { OBAN_CLOCK, type Clock } from '../../lib/util/clock';
import { CpuWorkerModule } from './cluster-cpu-worker';

export interface TestNodeSettings {
  prefix: string;
  databaseUrl: string;
  oban: Omit<ObanModuleOptions, 'connection' | 'prefix' | 'crontab'>;
  /** Cron entries for RecordWorker: [expression, name]. */
  crontab?: Array<{ cron: string; name: string }>;
  /** Also run CpuRecordWorker (queue 'cpu', `cpu: true`) from cluster-cpu-worker.ts. */
  cpu?: boolean;
  /** A shared fast clock: clock time = epoch + (Date.now() - realStart) * rate. */
  clock?: { epoch: number; realStart: number; rate: number };
}

const settings: TestNodeSettings = JSON.parse(process.env.OBAN_TEST_NODE ?? '{}');
const schema = `"${settings.prefix}"`;

@Injectable()
class SideEffects implements OnModuleDestroy {
  readonly pool = new Pool({ connectionString: settings.databaseUrl, max: 4 });
  query(sql: string, params: unknown[]) {
    return this.pool.query(sql, params);
  }
  async onModuleDestroy() {
    await this.pool.end();
  }
}

@Worker({ queue: 'default', maxAttempts: 5 })
class RecordWorker {
  constructor(private readonly fx: SideEffects) {}
  async perform(job: Job<{ ms?: number }>) {
    const node = job.attemptedBy[0];
    const [run] = (
      await this.fx.query(
        `INSERT INTO ${schema}.runs (job_id, attempt, node, started_ms) VALUES ($1, $2, $3, $4) RETURNING id`,
        [job.id, job.attempt, node, Date.now()],
      )
    ).rows;
    await new Promise((r) => setTimeout(r, job.args.ms ?? 0));
    await this.fx.query(`UPDATE ${schema}.runs SET ended_ms = $2 WHERE id = $1`, [run.id, Date.now()]);
    return { node };
  }
}

@Worker({ queue: 'slow' })
class SlowWorker {
  constructor(private readonly fx: SideEffects) {}
  async perform(job: Job<{ ms?: number }>, { signal }: PerformContext) {
    await this.fx.query(`INSERT INTO ${schema}.aborts (job_id, node, reason) VALUES ($1, $2, 'started')`, [
      job.id,
      job.attemptedBy[0],
    ]);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, job.args.ms ?? 60_000);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        const reason = (signal.reason as Error)?.name ?? String(signal.reason);
        void this.fx
          .query(`INSERT INTO ${schema}.aborts (job_id, node, reason) VALUES ($1, $2, $3)`, [
            job.id,
            job.attemptedBy[0],
            reason,
          ])
          .finally(resolve);
      });
    });
    return { finished: !signal.aborted };
  }
}

@Module({ providers: [SideEffects, RecordWorker, SlowWorker], exports: [SideEffects] })
class WorkersModule {}

function clockModule() {
  const c = settings.clock;
  const clock: Clock | undefined = c && { now: () => c.epoch + (Date.now() - c.realStart) * c.rate, rate: c.rate };
  @Global()
  @Module({ providers: clock ? [{ provide: OBAN_CLOCK, useValue: clock }] : [], exports: clock ? [OBAN_CLOCK] : [] })
  class ClockModule {}
  return ClockModule;
}

async function main() {
  @Module({
    imports: [
      clockModule(),
      ObanModule.forRoot({
        connection: settings.databaseUrl,
        prefix: settings.prefix,
        migrate: true,
        stageInterval: 200,
        ...settings.oban,
        crontab: (settings.crontab ?? []).map((e) => ({ ...e, worker: RecordWorker, args: { ms: 0 } })),
      }),
      WorkersModule,
      ...(settings.cpu ? [CpuWorkerModule] : []),
    ],
  })
  class NodeModule {}

  const app = await NestFactory.createApplicationContext(NodeModule, { logger: ['error', 'warn'] });
  const runtime = app.get(ObanRuntime);
  const send = (message: object) => process.connected && process.send?.(message);
  send({ type: 'ready', pid: process.pid, node: app.get<ObanConfig>(OBAN_CONFIG).node });
  runtime.onLeadership((change) => send({ type: 'leader', ...change }));
  process.on('message', async (message: { cmd: string }) => {
    if (message.cmd === 'stop') {
      await app.close();
      send({ type: 'stopped' });
      process.exit(0);
    }
  });
  // The parent going away (test failure) must not leave this process behind.
  process.on('disconnect', () => process.exit(1));
}

main().catch((error) => {
  console.error('test node failed to start:', error);
  process.exit(1);
});
