import { performance } from 'node:perf_hooks';
import { sleep } from '../common/wait';
import type { BenchSystem } from './system';

/** Reports how far the current step is, 0..1. */
export type Progress = (fraction: number) => void;

export interface DrainResult {
  /** Jobs finished (as the database says) when the clock stopped. */
  done: number;
  seconds: number;
  /** True when the time box ended the run before every job finished. */
  timedOut: boolean;
}

/**
 * Counts task starts and lets a loop wait for one key: the `onJob` hook every
 * adapter's no-op task calls.
 */
export class JobTracker {
  started = 0;
  private readonly waiters = new Map<number, (at: number) => void>();

  readonly onJob = (key: number): void => {
    const at = performance.now();
    this.started++;
    const waiter = this.waiters.get(key);
    if (waiter) {
      this.waiters.delete(key);
      waiter(at);
    }
  };

  /** Resolves with the time (performance.now) the job `key` started. */
  startOf(key: number): Promise<number> {
    return new Promise((resolve) => this.waiters.set(key, resolve));
  }

  forget(key: number): void {
    this.waiters.delete(key);
  }

  reset(): void {
    this.started = 0;
    this.waiters.clear();
  }
}

/** Stores `count` jobs in one bulk call, with no worker running; jobs/s. */
export async function measureInsert(system: BenchSystem, count: number): Promise<number> {
  await system.clear();
  const t0 = performance.now();
  await system.insertBulk(0, count);
  const seconds = (performance.now() - t0) / 1000;
  await system.clear();
  return count / seconds;
}

/**
 * Stores `count` jobs (untimed), then times from starting the workers until
 * the database has every job finished, the last outcome written. Stops at
 * `timeboxMs` for systems too slow to finish, counting what was done.
 */
export async function measureDrain(
  system: BenchSystem,
  tracker: JobTracker,
  count: number,
  concurrency: number,
  timeboxMs: number,
  progress: Progress,
): Promise<DrainResult> {
  await system.clear();
  await system.insertBulk(0, count);
  await system.prepareWorkers(concurrency);
  tracker.reset();
  const t0 = performance.now();
  const deadline = t0 + timeboxMs;
  await system.startWorkers();
  let done = 0;
  let timedOut = false;
  while (true) {
    if (tracker.started >= count) {
      done = count - (await system.remaining());
      if (done >= count) break;
    }
    if (performance.now() > deadline) {
      done = count - (await system.remaining());
      timedOut = done < count;
      break;
    }
    progress(Math.max(tracker.started / count, (performance.now() - t0) / timeboxMs));
    await sleep(tracker.started >= count ? 5 : 20);
  }
  const seconds = (performance.now() - t0) / 1000;
  await system.stopWorkers();
  await system.clear();
  return { done, seconds, timedOut };
}

export interface LatencyResult {
  samples: number[];
  timedOut: boolean;
}

/**
 * Insert-to-start latency on an idle queue: one job at a time, each inserted
 * only after the previous one started and a short pause, timed from just
 * before the insert call to the first statement of the task.
 */
export async function measureLatency(
  system: BenchSystem,
  tracker: JobTracker,
  count: number,
  concurrency: number,
  timeboxMs: number,
  progress: Progress,
): Promise<LatencyResult> {
  await system.clear();
  await system.prepareWorkers(concurrency);
  await system.startWorkers();
  await sleep(200); // let the workers settle into waiting
  const samples: number[] = [];
  const deadline = performance.now() + timeboxMs;
  let timedOut = false;
  for (let key = 0; key < count; key++) {
    const started = tracker.startOf(key);
    const t0 = performance.now();
    await system.insertOne(key);
    const left = deadline - performance.now();
    const at = await Promise.race([started, sleep(Math.max(0, left)).then(() => null)]);
    if (at === null) {
      tracker.forget(key);
      timedOut = true;
      break;
    }
    samples.push(at - t0);
    progress((key + 1) / count);
    // Idle again; a polling system gets its insert at a random point of its poll cycle.
    await sleep(5 + Math.random() * (20 + system.pollCycleMs));
  }
  await system.stopWorkers();
  await system.clear();
  return { samples, timedOut };
}
