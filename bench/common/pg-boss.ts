import PgBoss from 'pg-boss';

/** pg-boss at its constructor defaults (polling every 2 s, no notifications) on `schema`, started. */
export async function startPgBoss(url: string, schema: string): Promise<PgBoss> {
  const boss = new PgBoss({ connectionString: url, schema });
  boss.on('error', (error) => console.error(`pg-boss: ${error.message}`));
  await boss.start();
  return boss;
}

/** Stops at once: the benchmarks stop pg-boss only once its jobs are done or no longer wanted. */
export function stopPgBoss(boss: PgBoss): Promise<void> {
  return boss.stop({ graceful: false, wait: true });
}
