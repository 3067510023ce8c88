/** One pool process as `Oban.checkProcesses()` reports it. */
export interface PoolProcessStats {
  pid: number | undefined;
  ready: boolean;
  running: number;
  /** Resident memory in bytes, or null when it cannot be read. */
  rss: number | null;
}
