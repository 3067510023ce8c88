import type { SystemName } from '../common/systems';
import type { WorkerPlan } from './system';

/** What the producer process asks its worker process (workers.ts), one command at a time. */
export type WorkerCommand =
  { type: 'prepare'; plan: WorkerPlan } | { type: 'start' } | { type: 'stop' } | { type: 'close' } | { type: 'ping' };

/** What the worker process tells the producer process. */
export type WorkerEvent =
  | { type: 'ready' }
  /** A command done; `at` (epochNow) for a ping. */
  | { type: 'ack'; command: WorkerCommand['type']; at?: number }
  | { type: 'failed'; command: WorkerCommand['type']; message: string }
  /** A probe job's task started at `at` (epochNow). */
  | { type: 'probe'; key: number; at: number }
  /** Non-probe jobs started since the last prepare; sent every 20 ms while it changes. */
  | { type: 'count'; started: number };

/** The worker process's argv: system, database URL, location (schema or prefix). */
export type WorkerArgs = [system: SystemName, url: string, location: string];
