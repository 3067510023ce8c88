import { Logger, type Runner, type TaskList, type WorkerUtils, makeWorkerUtils, run } from 'graphile-worker';

const silent = new Logger(() => () => undefined);

/** graphile-worker's producer side on `schema`, migrated. */
export async function graphileUtils(url: string, schema: string): Promise<WorkerUtils> {
  const utils = await makeWorkerUtils({ connectionString: url, schema, logger: silent });
  await utils.migrate();
  return utils;
}

/**
 * graphile-worker's two settings under test. `defaults`: LISTEN/NOTIFY,
 * pollInterval 2 s, no local queue, one completeJob per job; `maxPoolSize`
 * raised to the concurrency when above the default 10, as its own start-up
 * warning asks. `tuned`: its performance page's settings
 * (https://worker.graphile.org/docs/performance), with only the concurrency
 * changed per column.
 */
export type GraphileSetting = 'defaults' | 'tuned';

export const GRAPHILE_TUNED = {
  maxPoolSize: 25,
  localQueue: { size: 500 },
  completeJobBatchDelay: 0,
  failJobBatchDelay: 0,
} as const;

export function graphileSettings(setting: GraphileSetting): string {
  return setting === 'tuned'
    ? `run({ preset: { worker: { concurrentJobs: <concurrency>, maxPoolSize: 25, localQueue: { size: 500 }, ` +
        `completeJobBatchDelay: 0, failJobBatchDelay: 0 } } }) (its performance page's settings, published for concurrentJobs 24)`
    : 'run({ concurrency }) defaults; maxPoolSize = max(10, concurrency) per its warning';
}

export function runGraphileWorker(
  url: string,
  schema: string,
  concurrency: number,
  taskList: TaskList,
  setting: GraphileSetting = 'defaults',
): Promise<Runner> {
  const common = { connectionString: url, schema, noHandleSignals: true, logger: silent, taskList };
  if (setting === 'tuned') {
    return run({
      ...common,
      preset: {
        worker: { ...GRAPHILE_TUNED, localQueue: { ...GRAPHILE_TUNED.localQueue }, concurrentJobs: concurrency },
      },
    });
  }
  return run({ ...common, concurrency, maxPoolSize: Math.max(10, concurrency) });
}
