import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type Job, Oban, type ObanModuleOptions } from '../../lib';
import { FaultsPoolAppModule, faultsPoolOptions } from '../fixtures/faults-pool/faults-pool-app.module';
import { DATABASE_URL, type TestSchema } from './db';
import { waitFor } from './wait';

/** Boots the faults-pool fixture app (cpu workers in worker processes) in `schema`. */
export async function bootFaultsPoolApp(
  schema: TestSchema,
  options: ObanModuleOptions,
): Promise<{ app: INestApplicationContext; oban: Oban }> {
  faultsPoolOptions.current = {
    connection: DATABASE_URL,
    prefix: schema.prefix,
    migrate: true,
    stageInterval: 100,
    ...options,
  };
  // FAULTS_POOL_LOG=1 shows the pool's warnings (which process died holding which jobs) when debugging.
  const logger: Array<'error' | 'warn' | 'log'> = process.env.FAULTS_POOL_LOG ? ['error', 'warn', 'log'] : ['error'];
  const app = await NestFactory.createApplicationContext(FaultsPoolAppModule, { logger });
  return { app, oban: app.get(Oban) };
}

const FINAL = ['completed', 'discarded', 'cancelled'];

/** Waits until every job is in a final state, and returns them in the order given. */
export async function settledAll(oban: Oban, ids: number[], timeout = 60_000): Promise<Job[]> {
  return waitFor(
    `jobs ${ids.join(', ')} to settle`,
    async () => {
      const jobs = await Promise.all(ids.map((id) => oban.getJob(id)));
      return jobs.every((job) => job && FINAL.includes(job.state)) && (jobs as Job[]);
    },
    { timeout, interval: 100 },
  );
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
