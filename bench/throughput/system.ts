/**
 * What the bench needs from each queue library under test. Every adapter runs
 * a no-op task that calls `onJob(key)` as its first statement, so the
 * measurement loops can count completions and time starts the same way for
 * all of them.
 */
export interface BenchSystem {
  /** Shown in the table's header. */
  readonly name: string;
  /** The settings this system runs with, for the table's notes. */
  readonly settings: string;
  /** The worker's poll interval when it learns of new jobs only by polling; 0 when an insert wakes it. */
  readonly pollCycleMs: number;
  /** What happens to a completed job's row. */
  readonly completedRows: string;
  /**
   * Opens connections and creates a fresh schema of its own. `onJob` is called
   * by the task with the job's `key` argument when it starts.
   */
  setup(onJob: (key: number) => void): Promise<void>;
  /** Stores `count` jobs with keys `[from, from + count)` in as few round trips as the library allows. */
  insertBulk(from: number, count: number): Promise<void>;
  /** Stores one job. */
  insertOne(key: number): Promise<void>;
  /** Untimed work before a drain starts (e.g. booting an app with its queue paused). */
  prepareWorkers(concurrency: number): Promise<void>;
  /** Starts processing at `concurrency`; timed as part of the drain. */
  startWorkers(): Promise<void>;
  stopWorkers(): Promise<void>;
  /** Jobs stored but not finished, as the database says. */
  remaining(): Promise<number>;
  /** Removes every job, so the next run starts from an empty queue. */
  clear(): Promise<void>;
  /** Drops the schema and closes everything. */
  teardown(): Promise<void>;
}
