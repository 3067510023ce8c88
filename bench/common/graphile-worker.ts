import { Logger, type Runner, type TaskList, type WorkerUtils, makeWorkerUtils, run } from 'graphile-worker';

const silent = new Logger(() => () => undefined);

/** graphile-worker's producer side on `schema`, migrated. */
export async function graphileUtils(url: string, schema: string): Promise<WorkerUtils> {
  const utils = await makeWorkerUtils({ connectionString: url, schema, logger: silent });
  await utils.migrate();
  return utils;
}

/**
 * graphile-worker at its defaults (LISTEN/NOTIFY, pollInterval 2 s) but for
 * `concurrency`, and `maxPoolSize` raised to the concurrency when it is above
 * the default 10, as graphile-worker's own start-up warning asks.
 */
export function runGraphileWorker(
  url: string,
  schema: string,
  concurrency: number,
  taskList: TaskList,
): Promise<Runner> {
  return run({
    connectionString: url,
    schema,
    concurrency,
    maxPoolSize: Math.max(10, concurrency),
    noHandleSignals: true,
    logger: silent,
    taskList,
  });
}
