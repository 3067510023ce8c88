import { performance } from 'node:perf_hooks';

/**
 * Milliseconds since the epoch, with sub-millisecond resolution, comparable
 * across the processes of one machine: each process's performance.timeOrigin
 * (the wall clock when it started) plus its monotonic performance.now(). Two
 * processes differ by how their start readings of the wall clock differ
 * (microseconds) plus any NTP slew since; the producer measures the offset to
 * the worker process at its start (worker-link.ts) and the notes report it.
 */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}
