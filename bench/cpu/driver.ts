import { report, runMain, runTask } from '../common/task';
import type { CpuJob, CpuPlan, CpuRow, Driver } from './plan';

/** What a driver process is asked to time (JSON in its argv). */
export interface DriverRequest {
  driver: Driver;
  databaseUrl: string;
  jobs: number;
  hashes: number;
  processes: number;
  /** Node flags of the worker processes. */
  execArgv?: string[];
  /** 'noop': nest-oban's no-op cpu jobs, for the cost of a dispatch. */
  job: CpuJob | 'noop';
  /** The JSON job's rounds. */
  jsonRounds: number;
  peerConcurrency: number;
  /** nest-oban's queue limit. */
  queueLimit: number;
  timeboxMs: number;
}

export interface BatchResult {
  /** From the insert (the floor: the first job handed out) to the last job finished; extrapolated when time-boxed. */
  seconds: number;
  timedOut: boolean;
  /** nest-oban: each worker process's resident memory after the batch. */
  rssMb?: number[];
  /** Set when the system could not run here (BullMQ: Redis not reachable); `seconds` is then NaN. */
  unavailable?: string;
}

type DriverMessage = { type: 'progress'; fraction: number } | { type: 'result'; result: BatchResult };

const FILES: Record<Driver, string> = {
  floor: './run-floor',
  'nest-oban': './run-nest-oban',
  'graphile-worker': './run-peer',
  'pg-boss': './run-peer',
  bullmq: './run-bullmq',
};

export function driverRequest(plan: CpuPlan, row: CpuRow, processes: number): DriverRequest {
  return {
    driver: row.driver,
    databaseUrl: plan.databaseUrl,
    jobs: plan.jobs,
    hashes: plan.hashes,
    processes,
    execArgv: row.execArgv,
    job: row.job,
    jsonRounds: plan.jsonRounds,
    peerConcurrency: plan.peerConcurrency,
    queueLimit: plan.queueLimit,
    timeboxMs: plan.timeboxMs,
  };
}

/** Times one batch in a driver process of its own: no run inherits another's heap, pools or timers. */
export async function runDriver(request: DriverRequest, onProgress: (fraction: number) => void): Promise<BatchResult> {
  let result: BatchResult | undefined;
  await runTask<DriverMessage>(require.resolve(FILES[request.driver]), [JSON.stringify(request)], (message) => {
    if (message.type === 'progress') onProgress(message.fraction);
    else result = message.result;
  });
  if (!result) throw new Error(`bench: the ${request.driver} driver finished without a result`);
  return result;
}

/** A driver process's body: times the batch it is asked for and reports the result. */
export function driverMain(
  time: (request: DriverRequest, progress: (fraction: number) => void) => Promise<BatchResult>,
): void {
  runMain(async () => {
    const request = JSON.parse(process.argv[2]) as DriverRequest;
    const result = await time(request, (fraction) => report({ type: 'progress', fraction } satisfies DriverMessage));
    report({ type: 'result', result } satisfies DriverMessage);
  });
}
