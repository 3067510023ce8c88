import { performance } from 'node:perf_hooks';
import { sleep } from '../common/wait';
import { epochNow } from './clock';
import type { ProducerSide, WorkerPlan } from './system';
import type { WorkerLink } from './worker-link';

/** Reports how far the current step is, 0..1. */
export type Progress = (fraction: number) => void;

export interface DrainResult {
  /** Jobs finished (as the store says) when the clock stopped. */
  done: number;
  seconds: number;
  /** True when the time box ended the run before every job finished. */
  timedOut: boolean;
}

/** Stores `count` jobs in one bulk call, with no worker running; jobs/s. */
export async function measureInsert(producer: ProducerSide, count: number): Promise<number> {
  await producer.clear();
  const t0 = performance.now();
  await producer.insertBulk(0, count);
  const seconds = (performance.now() - t0) / 1000;
  await producer.clear();
  return count / seconds;
}

/**
 * Stores `count` jobs (untimed), has the worker process prepare (untimed),
 * then times from asking it to start until the store has every job finished,
 * the last outcome written. Stops at `timeboxMs` for systems too slow to
 * finish, counting what was done.
 */
export async function measureDrain(
  producer: ProducerSide,
  workers: WorkerLink,
  count: number,
  plan: WorkerPlan,
  timeboxMs: number,
  progress: Progress,
): Promise<DrainResult> {
  await producer.clear();
  await producer.insertBulk(0, count);
  await workers.prepare(plan);
  const t0 = performance.now();
  const deadline = t0 + timeboxMs;
  await workers.start();
  const result = await awaitDrain(producer, workers, count, t0, deadline, progress);
  await workers.stop();
  await producer.clear();
  return result;
}

/** Waits until the store shows `count` jobs finished (asked only once the worker process has started them all), or the deadline. */
async function awaitDrain(
  producer: ProducerSide,
  workers: WorkerLink,
  count: number,
  t0: number,
  deadline: number,
  progress: Progress,
): Promise<DrainResult> {
  for (;;) {
    if (workers.started >= count) {
      const done = count - (await producer.remaining());
      if (done >= count) return { done, seconds: (performance.now() - t0) / 1000, timedOut: false };
    }
    if (performance.now() > deadline) {
      const done = count - (await producer.remaining());
      return { done, seconds: (performance.now() - t0) / 1000, timedOut: done < count };
    }
    progress(Math.max(workers.started / count, (performance.now() - t0) / (deadline - t0)));
    await sleep(workers.started >= count ? 5 : 20);
  }
}

export interface LatencyResult {
  /** Insert-to-start per sample, ms. */
  samples: number[];
  /** The insert call alone per sample, ms. */
  inserts: number[];
  timedOut: boolean;
}

/**
 * Insert-to-start latency on an idle queue: one job at a time, each inserted
 * only after the previous one started and a short pause, timed from just
 * before the insert call (this process) to the first statement of the task
 * (the worker process), both as epochNow.
 */
export async function measureLatency(
  producer: ProducerSide,
  workers: WorkerLink,
  count: number,
  concurrency: number,
  timeboxMs: number,
  progress: Progress,
): Promise<LatencyResult> {
  await producer.clear();
  await workers.prepare({ concurrency });
  await workers.start();
  await sleep(200); // let the workers settle into waiting
  const result = await probe(producer, workers, count, performance.now() + timeboxMs, progress, () => false);
  await workers.stop();
  await producer.clear();
  return result;
}

/**
 * nest-oban's latency under load: `jobs` stored on the main queue, then the
 * worker process drains them (limit `concurrency`) while single probes go to
 * the side queue (limit 10), one after another, until the drain is done.
 */
export async function measureLatencyUnderLoad(
  producer: ProducerSide,
  workers: WorkerLink,
  jobs: number,
  concurrency: number,
  timeboxMs: number,
  progress: Progress,
): Promise<LatencyResult & { drain: DrainResult }> {
  await producer.clear();
  await producer.insertBulk(0, jobs);
  await workers.prepare({ concurrency, side: true });
  const t0 = performance.now();
  const deadline = t0 + timeboxMs;
  await workers.start();
  const drained = awaitDrain(producer, workers, jobs, t0, deadline, progress);
  let finished = false;
  void drained.then(() => (finished = true));
  const result = await probe(
    producer,
    workers,
    Number.MAX_SAFE_INTEGER,
    deadline,
    () => undefined,
    () => finished,
    'side',
  );
  const drain = await drained;
  await workers.stop();
  await producer.clear();
  return { ...result, drain };
}

async function probe(
  producer: ProducerSide,
  workers: WorkerLink,
  count: number,
  deadline: number,
  progress: Progress,
  enough: () => boolean,
  lane: 'main' | 'side' = 'main',
): Promise<LatencyResult> {
  const samples: number[] = [];
  const inserts: number[] = [];
  let timedOut = false;
  // Keys of probes never collide with a drain's keys [0, jobs).
  for (let i = 0; i < count && !enough(); i++) {
    const key = 1_000_000_000 + i;
    const started = workers.startOf(key);
    const t0 = epochNow();
    await producer.insertOne(key, lane);
    const inserted = epochNow();
    const left = deadline - performance.now();
    const at = await Promise.race([started, sleep(Math.max(0, left)).then(() => null)]);
    if (at === null) {
      workers.forget(key);
      timedOut = true;
      break;
    }
    samples.push(at - t0);
    inserts.push(inserted - t0);
    progress((i + 1) / count);
    // Idle again; a polling system gets its insert at a random point of its poll cycle.
    await sleep(5 + Math.random() * (20 + producer.pollCycleMs));
  }
  return { samples, inserts, timedOut };
}
