/** The CPU benchmark's shape, shared by run.ts and the processes it starts. */
export interface CpuPlan {
  databaseUrl: string;
  /** 100 jobs of 100,000 SHA-256 rounds, as issue 3 and Oban Pro's benchmark. */
  jobs: number;
  rounds: number;
  /** Worker processes to time: 1 and 2 here (the machine has 2 cores). */
  processes: number[];
  /** Jobs each peer worker process runs at once. */
  concurrency: number;
  timeboxMs: number;
}

/** Seconds for the whole batch, one per entry of `processes`. */
export interface CpuRow {
  system: string;
  seconds: number[];
  note?: string;
}
