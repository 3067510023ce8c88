import type { JobOptions } from '../validation/job-options';
import type { WorkerClass } from '../worker/worker.interface';

/** One entry of `crontab`: insert a job of `worker` at each time `cron` names. */
export interface CronEntry {
  /** A 5-field expression (`'*\/5 * * * *'`) or a nickname (`@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`). */
  cron: string;
  /** The @Worker class, or its name when the worker runs on other nodes (then give `opts.queue`). */
  worker: WorkerClass | string;
  args?: Record<string, unknown>;
  opts?: JobOptions;
  /** IANA timezone the expression is read in; default: the module's `timezone`. */
  timezone?: string;
  /**
   * Stable key of the entry in `oban_crons` (which slot ran last). Default:
   * worker name, expression and args; set it to keep the history across edits.
   */
  name?: string;
}

/** Deletes finished jobs (`completed`, `cancelled`, `discarded`) older than `maxAge`. */
export interface PrunerOptions {
  /** Seconds a finished job is kept. Default 604800 (7 days). */
  maxAge?: number;
  /** Milliseconds between pruning runs. Default 30000. */
  interval?: number;
  /** Rows deleted per statement; runs repeat while a batch is full. Default 10000. */
  limit?: number;
}

/** Module options for running several nodes on one database (see README, "Running several nodes"). */
export interface ClusterOptions {
  /** Milliseconds between heartbeats (which also elect and renew the leader). Default 1000. */
  heartbeatInterval?: number;
  /** Milliseconds without a heartbeat after which a node is dead and its jobs are rescued. Default 10000. */
  nodeTtl?: number;
  /** Milliseconds the leader's lease lasts without renewal. Default 5000. */
  leaderTtl?: number;
  /** Whether this node may become leader (run the lifeline, pruner and cron). Default true. */
  leader?: boolean;
  /** Pruning of finished jobs, or `false` to keep them forever. */
  pruner?: PrunerOptions | false;
  /** Jobs inserted on a schedule by the leader. */
  crontab?: CronEntry[];
  /** IANA timezone cron expressions are read in. Default 'Etc/UTC'. */
  timezone?: string;
}
