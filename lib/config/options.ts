import type { LoggerService, ModuleMetadata, Type } from '@nestjs/common';
import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import type { ObanLogLevel } from '../events/oban-logger';
import type { ClusterOptions } from './cluster-options';
import type { QueuePartition, RateLimit } from '../store/limited-claim';

/**
 * A queue's settings: a limit, or an object with the limit, whether it starts
 * paused, and its limits across every node (README, "Global, rate and
 * partitioned limits").
 */
export type QueueOption =
  | number
  | {
      limit: number;
      paused?: boolean;
      /** At most this many jobs of the queue (of each partition) run at once on all nodes together. */
      globalLimit?: number;
      /** At most `allowed` starts (per partition) in any `period` seconds on all nodes together. */
      rateLimit?: RateLimit;
      /** Apply globalLimit and rateLimit per worker, or per value of some args or meta keys. */
      partition?: QueuePartition;
    };

export interface ObanModuleOptions extends ClusterOptions {
  /**
   * Where jobs live: a Postgres URL, an initialized TypeORM DataSource (its
   * pool is shared) or a pg Pool. Unset: an embedded PGlite database (see `pglite`).
   */
  connection?: string | DataSource | Pool;
  /**
   * The embedded database used when `connection` is unset: PGlite, real
   * Postgres in this process, one node only. `dataDir` default: env
   * OBAN_PGLITE_DIR, else `./.pglite`; `'memory://'` keeps nothing on disk.
   */
  pglite?: { dataDir?: string };
  /** Schema holding nest-oban's tables. Default `public`. */
  prefix?: string;
  /**
   * Queues this node runs, with their concurrency limits: `{ default: 10 }` or
   * `'default:10,heavy:16'`. Env `OBAN_QUEUES` overrides. `{}`: insert only.
   */
  queues?: Record<string, QueueOption> | string;
  /**
   * Worker processes for `cpu: true` workers. Default: env `OBAN_PRO_PROCESSES`,
   * else one per CPU core. 0 runs them in the main process.
   */
  processes?: number;
  /**
   * Node flags for the worker processes, after those they inherit from the
   * main process. Default `['--single-threaded-gc']`: one process per core is
   * busy already, and GC helper threads would only compete with the others.
   * Setting it replaces the default (keep the flag in your list if you want it).
   */
  processExecArgv?: string[];
  /**
   * A debugger port for each worker process, so breakpoints in `cpu: true`
   * workers hit (`--inspect` of the main process is not passed on: the ports
   * would clash). `true`: the main process's debug port + 1 (9230 for 9229),
   * then one more per process; a number: the first port. Default: env
   * `OBAN_PRO_INSPECT` (a port, or `true`), else none.
   */
  processInspect?: boolean | number;
  /**
   * Global modules left out of the worker processes, which otherwise boot
   * every global module of the app (TypeOrmModule.forRoot() makes each slower
   * to start and heavier): the classes, e.g. `[TypeOrmModule]`, or their
   * names. The modules they import are left out with them. A module the cpu
   * workers' own modules import still boots there.
   */
  processExclude?: Array<Type | string>;
  /** This node's name in `attempted_by`; must be unique per process. Default `host:pid:random`. */
  node?: string;
  /** Run nest-oban's migrations at boot. Default false. */
  migrate?: boolean;
  /** Milliseconds running jobs get to finish at shutdown. Default 15000. */
  shutdownGracePeriod?: number;
  /** Milliseconds between staging runs (due scheduled/retryable jobs) and polls. Default 1000. */
  stageInterval?: number;
  /** Connections in the pool nest-oban opens from a URL. Default 10. */
  poolSize?: number;
  /**
   * How `connection` reaches Postgres. `'transaction'`: through a pooler in
   * transaction mode (PgBouncer's `pool_mode = transaction`, a managed
   * Postgres's pooled port), where a session lasts one transaction:
   * statements are sent unprepared, no `statement_timeout` is sent at
   * connect (set it on the role), migrations lock per transaction, and what
   * needs a session (LISTEN, the node name's lock) uses `directConnection`,
   * or without it is left out: the poll every `stageInterval` ms is then the
   * only wake-up. Default `'none'`: a direct connection or a session pooler.
   */
  pooler?: 'none' | 'transaction';
  /**
   * With `pooler: 'transaction'`: a `postgres://` URL straight to Postgres
   * (around the pooler), for the LISTEN connection and the heartbeat's
   * connection, which hold sessions. Two connections per node.
   */
  directConnection?: string;
  /**
   * Milliseconds one of nest-oban's statements may run: on a pool it opens,
   * Postgres cancels it then (`statement_timeout`); on any pool, nest-oban
   * gives up on a statement whose answer has not come `connectTimeout` ms
   * later, and drops that connection (a dead socket). Default 15000.
   */
  statementTimeout?: number;
  /** Milliseconds to get a connection, and for the LISTEN connection to answer a ping. Default 5000. */
  connectTimeout?: number;
  /**
   * Milliseconds between this node's checks against the database, for what a
   * lost connection kept from it: stored queue pauses and limits, cancelled
   * jobs it runs, claims whose answer never came (put back after at least
   * this long); also how often the LISTEN connection is pinged. The check
   * also runs whenever LISTEN reconnects. Default 5000.
   */
  reconcileInterval?: number;
  /**
   * Bytes of JSON a job's result may take; a larger result fails its attempt
   * with an error naming this limit. Default 8388608 (8 MiB).
   */
  maxResultBytes?: number;
  /**
   * For tests, as Oban's testing modes. `'inline'`: `insert` runs the job at
   * once in this process and returns it finished, without touching the
   * database (none is opened unless `connection` is given). `'manual'`: jobs
   * are stored, but no queue runs; drive them with `drainQueue` from
   * `nest-oban/testing`. Default `'disabled'`: queues run.
   */
  testing?: TestingMode;
  /** Where nest-oban's own lines go (context `Oban`). Default: Nest's `Logger`, so the app's logger. */
  logger?: LoggerService;
  /**
   * The least severe of nest-oban's own lines written: `'verbose'`, `'debug'`,
   * `'log'`, `'warn'`, `'error'`, `'fatal'` or `'silent'`. Default `'verbose'`
   * (all; the app's Nest log levels still apply).
   */
  logLevel?: ObanLogLevel;
  /** One JSON line per job attempt's end (`job.stop`), through `logger`. Default false. */
  logJobs?: boolean;
}

export type TestingMode = 'disabled' | 'inline' | 'manual';

export interface ObanOptionsFactory {
  createObanOptions(): Promise<ObanModuleOptions> | ObanModuleOptions;
}

export interface ObanModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  useFactory?: (...args: any[]) => Promise<ObanModuleOptions> | ObanModuleOptions;
  inject?: any[];
  useClass?: Type<ObanOptionsFactory>;
  useExisting?: Type<ObanOptionsFactory>;
}
