/**
 * BullMQ's sandboxed processor for the CPU benchmark: the file BullMQ's
 * Worker runs in each child process it forks (useWorkerThreads: false).
 */
import type { SandboxedJob } from 'bullmq';
import { type ShaArgs, shaJob } from './sha-job';

export default async function sha(job: SandboxedJob<ShaArgs>): Promise<string> {
  return shaJob(job.data.hashes, job.data.key);
}
