import { createHash } from 'node:crypto';

/**
 * The one job of the CPU benchmark, whoever runs it (the floor, nest-oban,
 * graphile-worker, pg-boss), after Oban Pro's benchmark: exactly `hashes`
 * SHA-256 hashes, the first over the job's seed, each next over the previous
 * digest.
 */
export function shaJob(hashes: number, key: number): string {
  let digest = createHash('sha256').update(`job-${key}`).digest();
  for (let i = 1; i < hashes; i++) digest = createHash('sha256').update(digest).digest();
  return digest.toString('hex');
}

/** A job's arguments, the same in every system's job table. */
export interface ShaArgs {
  key: number;
  hashes: number;
}

/** The batch every system is timed on: jobs 0..jobs-1. */
export function shaBatch(jobs: number, hashes: number): ShaArgs[] {
  return Array.from({ length: jobs }, (_, key) => ({ key, hashes }));
}
