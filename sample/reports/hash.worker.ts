import { type Job, type ObanWorker, Worker } from '../../lib';
import { DigestService } from './digest.service';

export interface HashArgs {
  rounds: number;
  seed?: number;
}

export interface HashResult {
  digest: string;
  /** The process that ran the job: a pool worker's pid with `cpu: true` and processes > 0. */
  pid: number;
  ms: number;
}

/**
 * CPU-bound: with `cpu: true` it runs in the pool of worker processes
 * (`processes` / OBAN_PRO_PROCESSES), so it never blocks the HTTP server or
 * the other jobs of the main process. DigestService is injected there too.
 */
@Worker({ queue: 'heavy', cpu: true, maxAttempts: 3 })
export class HashWorker implements ObanWorker<HashArgs, HashResult> {
  constructor(private readonly digests: DigestService) {}

  perform(job: Job<HashArgs>): HashResult {
    const started = Date.now();
    const digest = this.digests.run(job.args.rounds, job.args.seed ?? job.id);
    return { digest, pid: process.pid, ms: Date.now() - started };
  }
}
