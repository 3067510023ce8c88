import { type ConstructorOptions, PgBoss } from 'pg-boss';

/**
 * pg-boss's two settings under test. `defaults`: the constructor's defaults
 * (polling every 2 s, no notifications). `tuned`: its best settings for a
 * backlog of small jobs, as issue 11 measured them: LISTEN/NOTIFY on
 * (`useListenNotify`, the queue created with `notify: true`), fetches of
 * `batchSize: 125` repeated at once while they come back full
 * (`burstWhenBatchFull`), and the lowest base poll (0.5 s).
 */
export type PgBossSetting = 'defaults' | 'tuned';

export const PG_BOSS_TUNED_BATCH = 125;

/** pg-boss on `schema`, started; the tuned setting also listens for notifications. */
export async function startPgBoss(url: string, schema: string, setting: PgBossSetting = 'defaults'): Promise<PgBoss> {
  const options: ConstructorOptions = { connectionString: url, schema };
  if (setting === 'tuned') options.useListenNotify = true;
  const boss = new PgBoss(options);
  boss.on('error', (error: Error) => console.error(`pg-boss: ${error.message}`));
  await boss.start();
  return boss;
}

/** Creates `queue`; the tuned setting has its inserts send a NOTIFY. */
export async function createPgBossQueue(boss: PgBoss, queue: string, setting: PgBossSetting): Promise<void> {
  await boss.createQueue(queue, setting === 'tuned' ? { notify: true } : {});
}

/** The work() options of a setting; `defaults` runs `concurrency` fetch loops of one job each (localConcurrency). */
export function pgBossWorkOptions(setting: PgBossSetting, concurrency: number) {
  return setting === 'tuned'
    ? { batchSize: PG_BOSS_TUNED_BATCH, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 }
    : { localConcurrency: concurrency };
}

/** Stops at once: the benchmarks stop pg-boss only once its jobs are done or no longer wanted. */
export function stopPgBoss(boss: PgBoss): Promise<void> {
  return boss.stop({ graceful: false });
}
