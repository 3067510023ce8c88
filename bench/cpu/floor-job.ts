import type { CpuJob } from './plan';
import { jsonJob } from './json-job';
import { shaJob } from './sha-job';

/** A job as the floor hands it out: which job function, with its argument. */
export interface FloorJob {
  key: number;
  job: CpuJob;
  hashes: number;
  jsonRounds: number;
}

export function runFloorJob(job: FloorJob): void {
  if (job.job === 'json') jsonJob(job.jsonRounds, job.key);
  else shaJob(job.hashes, job.key);
}
