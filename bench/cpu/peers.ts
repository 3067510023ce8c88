import type { ShaArgs } from './sha-job';

export type PeerName = 'graphile-worker' | 'pg-boss';

/** What the CPU benchmark needs of a peer library. */
export interface PeerLibrary {
  /** The inserting side, in the driver process: migrates `schema` and creates the queue. */
  producer(url: string, schema: string): Promise<{ insert(jobs: ShaArgs[]): Promise<void>; close(): Promise<void> }>;
  /** A worker process's side: runs `task` for each job at `concurrency`; resolves with how to stop. */
  worker(url: string, schema: string, concurrency: number, task: (args: ShaArgs) => void): Promise<() => Promise<void>>;
}

/** The queue (graphile-worker: task identifier) of the batch. */
export const PEER_QUEUE = 'sha';

/** Loads only the library asked for into this process. */
export function loadPeer(name: PeerName): PeerLibrary {
  switch (name) {
    case 'graphile-worker':
      return (require('./graphile-worker') as typeof import('./graphile-worker')).graphileWorker;
    case 'pg-boss':
      return (require('./pg-boss') as typeof import('./pg-boss')).pgBoss;
  }
}
