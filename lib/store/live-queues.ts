import type { ClusterStore } from './cluster-store';

/**
 * The queues that live nodes run (advertised in their heartbeat rows), read on
 * demand and kept for a second: what lets an insert-only node enqueue for a
 * queue that only other nodes run.
 */
export class LiveQueues {
  private cached: { at: number; queues: Set<string> } | undefined;
  private loading: Promise<Set<string>> | undefined;

  constructor(
    private readonly cluster: ClusterStore,
    private readonly maxAgeMs = 1_000,
  ) {}

  /** The cached set when fresh, else reads it (concurrent callers share one read). */
  async get(): Promise<Set<string>> {
    if (this.cached && Date.now() - this.cached.at < this.maxAgeMs) return this.cached.queues;
    this.loading ??= this.cluster.liveQueues().then(
      (list) => {
        this.loading = undefined;
        this.cached = { at: Date.now(), queues: new Set(list) };
        return this.cached.queues;
      },
      (error) => {
        this.loading = undefined;
        throw error;
      },
    );
    return this.loading;
  }
}
