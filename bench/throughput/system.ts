/**
 * What the bench needs from each queue system under test, split in the two
 * sides that run in two OS processes: the producer side (producer.ts: stores
 * jobs, counts what is left, clears) and the worker side (workers.ts: runs the
 * no-op task). Every adapter's task calls `onJob(key, probe)` as its first
 * statement, so the worker process can count starts and time them the same
 * way for all systems.
 */

/** The queue a job goes to: the drained one, or (nest-oban only) a second queue probed for latency during a drain. */
export type Lane = 'main' | 'side';

export interface ProducerSide {
  /** The settings this system runs with, for the table's notes. */
  readonly settings: string;
  /** The worker's poll interval when it learns of new jobs only by polling; 0 when an insert wakes it. */
  readonly pollCycleMs: number;
  /** What happens to a completed job's row. */
  readonly completedRows: string;
  /** Where the jobs live (a schema, a key prefix): handed to the worker process. */
  readonly location: string;
  /** Creates a fresh schema (or key prefix) of its own, migrated. */
  setup(): Promise<void>;
  /** Stores `count` jobs with keys `[from, from + count)` in as few round trips as the library allows. */
  insertBulk(from: number, count: number): Promise<void>;
  /** Stores one job marked as a probe: the worker process reports its start at once. */
  insertOne(key: number, lane: Lane): Promise<void>;
  /** Jobs stored but not finished, as the store says. */
  remaining(): Promise<number>;
  /** Removes every job, so the next run starts from an empty queue. */
  clear(): Promise<void>;
  /** Drops the schema (or keys) and closes everything. */
  teardown(): Promise<void>;
}

/** How the worker process runs its next batch. */
export interface WorkerPlan {
  concurrency: number;
  /** nest-oban only: a `job.stop` listener and ObanMetricsModule on (issue 14's row). */
  observed?: boolean;
  /** nest-oban only: also run the side queue (limit 10), for latency under load. */
  side?: boolean;
}

export type OnJob = (key: number, probe: boolean) => void;

export interface WorkerSide {
  /** Untimed work before a drain starts (e.g. booting an app with its queue paused). */
  prepare(plan: WorkerPlan): Promise<void>;
  /** Starts processing; timed as part of the drain. */
  start(): Promise<void>;
  stop(): Promise<void>;
  close(): Promise<void>;
}

/** Job arguments in every system: the key, and `probe: 1` on single inserts. */
export interface JobArgs {
  key: number;
  probe?: 1;
}
