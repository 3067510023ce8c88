/**
 * The starter, in the spirit of Temporal's worker_multiprocessing sample:
 * boots the sample app (no HTTP), creates a user with its welcome email, then
 * enqueues N hash jobs, waits for them, prints the pid that ran each and a
 * summary by process.
 *
 *   npm run sample                          # builds, then runs this on embedded PGlite
 *   OBAN_PRO_PROCESSES=4 npm run sample -- --jobs=16 --rounds=200000
 *   DATABASE_URL=postgres://... npm run sample
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { type Job, Oban } from '../lib';
import { AppModule } from './app.module';
import { HashWorker, type HashResult } from './reports/hash.worker';
import { UsersService } from './users/users.service';

function flag(name: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  const value = Number(arg ? arg.split('=')[1] : fallback);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`starter: --${name} must be a whole number >= 1, got ${arg?.split('=')[1]}`);
  }
  return value;
}

async function waitForAll(oban: Oban, ids: number[], timeoutMs: number): Promise<Job[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const jobs = await Promise.all(ids.map((id) => oban.getJob(id)));
    if (jobs.every((j) => j && ['completed', 'discarded', 'cancelled'].includes(j.state))) return jobs as Job[];
    if (Date.now() > deadline) {
      const waiting = jobs.filter((j) => j?.state !== 'completed').map((j) => `#${j?.id} ${j?.state}`);
      throw new Error(`starter: jobs still not finished after ${timeoutMs / 1000} s: ${waiting.join(', ')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function main(): Promise<void> {
  const count = flag('jobs', 8);
  const rounds = flag('rounds', 100_000);
  const app = await NestFactory.createApplicationContext(AppModule, { logger: ['log', 'error', 'warn'] });
  app.enableShutdownHooks();
  const oban = app.get(Oban);
  try {
    const email = `newcomer-${Date.now()}@example.com`;
    const { user, job: welcome } = await app.get(UsersService).create(email);
    const [sent] = await waitForAll(oban, [welcome.id], 30_000);
    console.log(`\nuser #${user.id} ${email} created; its welcome email job #${sent.id} is ${sent.state}`);

    console.log(`\nmain process pid ${process.pid}: enqueueing ${count} HashWorker jobs of ${rounds} SHA-256 rounds`);
    const started = Date.now();
    const jobs = await oban.insertAll(
      Array.from({ length: count }, (_, i) => ({ worker: HashWorker, args: { rounds, seed: i } })),
    );
    const done = await waitForAll(
      oban,
      jobs.map((j) => j.id),
      600_000,
    );
    const seconds = (Date.now() - started) / 1000;

    const byPid = new Map<number, number>();
    for (const job of done) {
      const result = job.result as HashResult | null;
      if (job.state !== 'completed' || !result) {
        console.log(`job #${job.id}: ${job.state} ${job.errors.at(-1)?.error ?? ''}`);
        continue;
      }
      byPid.set(result.pid, (byPid.get(result.pid) ?? 0) + 1);
      console.log(`job #${job.id} ran in pid ${result.pid} (${result.ms} ms, digest ${result.digest.slice(0, 12)}...)`);
    }
    console.log(`\n${done.length} jobs in ${seconds.toFixed(2)} s, by process:`);
    for (const [pid, n] of [...byPid.entries()].sort((a, b) => a[0] - b[0])) {
      console.log(`  pid ${pid}${pid === process.pid ? ' (main process)' : ''}: ${n} job(s)`);
    }
  } finally {
    await app.close();
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
