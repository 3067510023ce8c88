/**
 * The floor: the batch handed to N plain forked processes (no queue, no
 * Nest), each given the next job when it finishes one; with N = 0, this
 * process hashes the jobs itself. Timed from the first job handed out to the
 * last one done.
 */
import type { ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { startWorker, stopWorker } from '../common/worker-process';
import { type BatchResult, type DriverRequest, driverMain } from './driver';
import { type FloorJob, runFloorJob } from './floor-job';

type Progress = (fraction: number) => void;

driverMain(async (request, progress) => {
  if (request.processes === 0) return inThisProcess(request, progress);
  const execArgv = [...process.execArgv, ...(request.execArgv ?? [])];
  const children = await Promise.all(
    Array.from({ length: request.processes }, () => startWorker(require.resolve('./floor-child'), [], execArgv)),
  );
  try {
    const t0 = performance.now();
    await handOut(children, request, progress);
    return { seconds: (performance.now() - t0) / 1000, timedOut: false };
  } finally {
    await Promise.all(children.map(stopWorker));
  }
});

function inThisProcess(request: DriverRequest, progress: Progress): BatchResult {
  const t0 = performance.now();
  for (let key = 0; key < request.jobs; key++) {
    runFloorJob(floorJob(request, key));
    progress((key + 1) / request.jobs);
  }
  return { seconds: (performance.now() - t0) / 1000, timedOut: false };
}

/** Resolves once every job is done, each child taking the next job as it reports one. */
function handOut(children: ChildProcess[], request: DriverRequest, progress: Progress): Promise<void> {
  let next = 0;
  let done = 0;
  return new Promise((resolve) => {
    const give = (child: ChildProcess) => {
      if (next < request.jobs) child.send({ type: 'job', ...floorJob(request, next++) });
    };
    for (const child of children) {
      child.on('message', (message: { type: string }) => {
        if (message.type !== 'job') return;
        progress(++done / request.jobs);
        if (done === request.jobs) resolve();
        else give(child);
      });
      give(child);
    }
  });
}

function floorJob(request: DriverRequest, key: number): FloorJob {
  if (request.job === 'noop') throw new Error('bench: the floor runs no no-op jobs');
  return { key, job: request.job, hashes: request.hashes, jsonRounds: request.jsonRounds };
}
