/**
 * What a global limit costs: 20,000 no-op jobs drained by two nest-oban nodes
 * (each its own OS process, queue limit 10), with no limit and with
 * `globalLimit: 20` (the sum of the local limits, so the limit itself never
 * binds: what is measured is its claim path, leased shares). Also, beside
 * them: `globalLimit: 10`, which binds (a share of 5 per node), and
 * `globalLimit: 20` partitioned by worker, which claims under the queue's
 * lock as rate limits do. The settings take turns in rounds; the median of
 * each is reported.
 *
 *   npm run bench:limits                       # 3 rounds of 20,000
 *   npm run bench:limits -- --jobs=5000 --rounds=1
 */
import * as path from 'node:path';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Oban, ObanModule } from '../../lib';
import { BENCH_DATABASE_URL, dropSchema, ensureDatabase, uniqueSchema, withClient } from '../common/database';
import { Flags } from '../common/flags';
import { loadAverages } from '../common/machine';
import { type Table, renderText } from '../common/table';
import { runMain } from '../common/task';
import { startWorker, stopWorker } from '../common/worker-process';

const SETTINGS: Array<{ label: string; queue: Record<string, unknown> }> = [
  { label: 'no limit across nodes', queue: { limit: 10 } },
  { label: 'globalLimit: 20', queue: { limit: 10, globalLimit: 20 } },
  { label: 'globalLimit: 10 (5 per node)', queue: { limit: 10, globalLimit: 10 } },
  {
    label: 'globalLimit: 20, partitioned by worker',
    queue: { limit: 10, globalLimit: 20, partition: { by: 'worker' } },
  },
];

async function drain(url: string, jobs: number, queue: Record<string, unknown>): Promise<number> {
  const prefix = uniqueSchema('bench_limits');
  @Module({ imports: [ObanModule.forRoot({ connection: url, prefix, migrate: true, queues: {} })] })
  class ControlModule {}
  const control = await NestFactory.createApplicationContext(ControlModule, { logger: ['error', 'warn'] });
  const nodes = await Promise.all(
    [0, 1].map(() => startWorker(path.join(__dirname, 'node.js'), [url, prefix, JSON.stringify(queue)])),
  );
  try {
    await withClient(url, async (client) => {
      await client.query(
        `INSERT INTO "${prefix}".oban_jobs (queue, worker, args) SELECT 'bench', 'NoopWorker', jsonb_build_object('i', g) FROM generate_series(1, $1) g`,
        [jobs],
      );
      await client.query(`VACUUM ANALYZE "${prefix}".oban_jobs`);
    });
    const began = performance.now();
    await control.get(Oban).resumeQueue('bench');
    await withClient(url, async (client) => {
      for (;;) {
        const { rows } = await client.query(
          `SELECT count(*)::int AS n FROM "${prefix}".oban_jobs WHERE state <> 'completed'`,
        );
        if (rows[0].n === 0) return;
        await new Promise((r) => setTimeout(r, 20));
      }
    });
    return jobs / ((performance.now() - began) / 1000);
  } finally {
    await Promise.all(nodes.map(stopWorker));
    await control.close();
    await dropSchema(url, prefix);
  }
}

async function main(): Promise<void> {
  const flags = new Flags(process.argv.slice(2), ['jobs', 'rounds'], 'bench/limits/main.ts');
  const jobs = flags.int('jobs', 20_000);
  const rounds = flags.int('rounds', 3);
  const url = BENCH_DATABASE_URL;
  await ensureDatabase(url);
  const before = loadAverages();
  const rates = SETTINGS.map(() => [] as number[]);
  for (let round = 1; round <= rounds; round++) {
    for (const [i, setting] of SETTINGS.entries()) {
      process.stdout.write(`round ${round}/${rounds}: ${setting.label}\n`);
      rates[i].push(await drain(url, jobs, setting.queue));
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const base = median(rates[0]);
  const table: Table = {
    header: [`drain ${jobs.toLocaleString('en-US')} no-op jobs, 2 nodes, limit 10 each`, 'jobs/s', 'ratio'],
    rows: SETTINGS.map((s, i) => [
      s.label,
      Math.round(median(rates[i])).toLocaleString('en-US'),
      (median(rates[i]) / base).toFixed(2) + 'x',
    ]),
  };
  process.stdout.write(
    `\n${renderText(table)}\n\nmedian of ${rounds} round(s); load average ${before} before, ${loadAverages()} after\n`,
  );
}

runMain(main);
