import type { ProgressBar } from '../common/progress';
import { driverRequest, runDriver } from './driver';
import { type CpuPlan, cpuRows } from './plan';

export interface DispatchOverhead {
  /** ms per no-op job, run in nest-oban's main process and through its pool. */
  inProcess: number;
  pool: number;
  /** What handing a job to a worker process and back adds, ms per job. */
  perJob: number;
}

/** No-op cpu jobs through nest-oban's pool (as many processes as the largest N) against the same in its main process. */
export async function dispatchOverhead(plan: CpuPlan, bar: ProgressBar): Promise<DispatchOverhead> {
  const nestOban = cpuRows(plan).find((r) => r.key === 'nest-oban')!;
  const msPerJob = async (processes: number) => {
    bar.step(`nest-oban, ${plan.noopJobs} no-op cpu jobs, processes: ${processes}`);
    const request = { ...driverRequest(plan, nestOban, processes), jobs: plan.noopJobs, job: 'noop' as const };
    return ((await runDriver(request, (f) => bar.progress(f))).seconds * 1000) / plan.noopJobs;
  };
  const inProcess = await msPerJob(0);
  const pool = await msPerJob(Math.max(...plan.processes, 1));
  return { inProcess, pool, perJob: pool - inProcess };
}

export function describeOverhead(o: DispatchOverhead): string {
  return (
    `Dispatch overhead: ${o.perJob.toFixed(3)} ms per no-op cpu job ` +
    `(${o.pool.toFixed(3)} ms through the pool vs ${o.inProcess.toFixed(3)} ms in the main process).`
  );
}
