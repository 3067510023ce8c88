import type { Job } from '../job';
import type { Outcome } from '../queue/outcome';
import type { RunEnd } from './pool-child';

const DEFAULT_MAX_SUSPECTS = 10_000;
const DEFAULT_SUSPECT_TTL_MS = 60 * 60_000;

/**
 * Finds which job kills its worker process, so no other job pays for it. A
 * process that dies holding one job was killed by that job: it is charged.
 * One that dies holding several cannot say which: they all go back uncharged
 * and are remembered as suspects, and the pool runs each suspect alone next
 * time, where a death is its own. A job that ran alone and killed its process
 * stays a suspect, so its retries run alone too and spare their neighbours.
 *
 * The memory is this node's, by job id, and bounded in size and time; a
 * forgotten suspect merely runs among others again.
 */
export class CrashSuspects {
  /** Job id to when it is forgotten; insertion order is expiry order, as the lifetime is fixed. */
  private readonly expiries = new Map<number, number>();

  constructor(
    private readonly maxSize = DEFAULT_MAX_SUSPECTS,
    private readonly ttlMs = DEFAULT_SUSPECT_TTL_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get size(): number {
    this.forgetExpired();
    return this.expiries.size;
  }

  has(jobId: number): boolean {
    const expiry = this.expiries.get(jobId);
    if (expiry === undefined) return false;
    if (expiry > this.now()) return true;
    this.expiries.delete(jobId);
    return false;
  }

  /** What one run's end means for its job; remembers or clears the job as a suspect. */
  outcomeOf(job: Job, end: RunEnd): Outcome {
    if (end.kind === 'outcome') {
      this.expiries.delete(job.id); // it ran to its end without killing its process
      return end.outcome;
    }
    if (end.stoppedBecause) return { kind: 'released', reason: end.stoppedBecause };
    this.remember(job.id);
    if (end.held === 1) return { kind: 'failed', error: end.error };
    return {
      kind: 'released',
      reason: `${end.error.message} and ${end.held - 1} other job(s); it runs alone next to tell which one caused it`,
    };
  }

  private remember(jobId: number): void {
    this.expiries.delete(jobId); // re-inserted last: its lifetime starts again
    this.expiries.set(jobId, this.now() + this.ttlMs);
    this.forgetExpired();
    for (const oldest of this.expiries.keys()) {
      if (this.expiries.size <= this.maxSize) break;
      this.expiries.delete(oldest);
    }
  }

  private forgetExpired(): void {
    const now = this.now();
    for (const [jobId, expiry] of this.expiries) {
      if (expiry > now) break;
      this.expiries.delete(jobId);
    }
  }
}
