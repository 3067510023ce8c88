/**
 * One worker process of the peers' CPU benchmark: runs graphile-worker or
 * pg-boss on the schema it is given, with a task doing the SHA-256 rounds,
 * reports each finished job to the parent, and stops when told.
 * argv: system, databaseUrl, schema, queue, concurrency.
 */
import { Logger, run } from 'graphile-worker';
import PgBoss from 'pg-boss';
import { shaRounds } from './cpu-work';

const [system, databaseUrl, schema, queue, concurrencyText] = process.argv.slice(2);
const concurrency = Number(concurrencyText);
const report = (key: number) => process.send!({ type: 'job', key });

async function main(): Promise<void> {
  let stop: () => Promise<void>;
  if (system === 'graphile-worker') {
    const runner = await run({
      connectionString: databaseUrl,
      schema,
      concurrency,
      maxPoolSize: Math.max(10, concurrency),
      noHandleSignals: true,
      logger: new Logger(() => () => undefined),
      taskList: {
        [queue]: async (payload) => {
          const { key, rounds } = payload as { key: number; rounds: number };
          shaRounds(rounds, key);
          report(key);
        },
      },
    });
    stop = () => runner.stop();
  } else {
    const boss = new PgBoss({ connectionString: databaseUrl, schema });
    boss.on('error', (error) => console.error(`pg-boss: ${error.message}`));
    await boss.start();
    await boss.work<{ key: number; rounds: number }>(queue, { batchSize: concurrency }, async (jobs) => {
      for (const job of jobs) {
        shaRounds(job.data.rounds, job.data.key);
        report(job.data.key);
      }
    });
    stop = () => boss.stop({ graceful: false, wait: true });
  }
  process.send!({ type: 'ready' });
  process.on('message', (message: { type: string }) => {
    if (message.type === 'stop') void stop().finally(() => process.exit(0));
  });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
