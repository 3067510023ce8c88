import type { Database, Queryable } from '../db/database';
import { type LimitStatements, buildLimitStatements, claimPreamble } from '../db/limit-statements';
import { literalScript, runPrepared, runScript, runsPrepared } from '../db/prepared-script';
import { type Job, jobFromRow } from '../job';
import { inTransaction } from '../db/transaction';

/** At most `allowed` job starts in any `period` seconds, across every node (a sliding window). */
export interface RateLimit {
  allowed: number;
  /** Seconds. */
  period: number;
}

/** What a limited queue's limits apply to, each part on its own: the worker, or the values of some args or meta keys. */
export type QueuePartition = { by: 'worker' } | { args: string[] } | { meta: string[] };

/** A queue's limits across every node (the local `limit` is the node's own). */
export interface QueueLimits {
  /** At most this many jobs of the queue (of each partition) run at once, on all nodes together. */
  globalLimit?: number;
  /** At most this many starts (per partition) in any window. */
  rateLimit?: RateLimit;
  /** The limits hold per partition; unset: for the queue as a whole. */
  partition?: QueuePartition;
}

/** A run-time change of limits (`scaleQueue`): the keys given replace the current ones; null removes one. */
export type QueueLimitsChange = { [K in keyof QueueLimits]?: QueueLimits[K] | null };

/** Limits with a change applied. */
export function applyLimitsChange(limits: QueueLimits, change: QueueLimitsChange | null | undefined): QueueLimits {
  const next: Record<string, unknown> = { ...limits };
  for (const [key, value] of Object.entries(change ?? {})) {
    if (value === null) delete next[key];
    else if (value !== undefined) next[key] = value;
  }
  return next as QueueLimits;
}

/** A partition alone limits nothing: only a global or rate limit sends the queue down the limited claim. */
export function isLimited(limits: QueueLimits): boolean {
  return limits.globalLimit !== undefined || limits.rateLimit !== undefined;
}

export interface LimitedClaimResult {
  jobs: Job[];
  /** Fewer jobs than asked were taken while the queue has available jobs: its limits held them back. */
  heldBack: boolean;
  /** Ms until the oldest start in the rate window leaves it (a claim may then take more); undefined: none. */
  windowFreesInMs: number | undefined;
}

/** A partition of a limited queue as `Oban.checkLimits` shows it. */
export interface PartitionState {
  /** '' for an unpartitioned queue; the worker's name; or the JSON array of the partition keys' values, e.g. `["acme"]`. */
  partition: string;
  /** Jobs of the partition executing on any node. */
  running: number;
  available: number;
  /** Starts left in the rate window now (undefined: no rate limit). */
  remainingRate: number | undefined;
  /** Slots left under the global limit now (undefined: no global limit). */
  remainingGlobal: number | undefined;
}

/** A partitioned claim ranks at most this many available jobs (in queue order), but see FULL_PASS_MS. */
export const RANKED_WINDOW = 1_000;
/** A partitioned queue's claims rank every available job at least this often, and whenever the window gives nothing. */
export const FULL_PASS_MS = 1_000;

/**
 * Claims of queues with a rate limit or partitions. Each claim is one transaction
 * on one connection: the queue's advisory lock in a statement of its own,
 * then the capped claim, whose fresh snapshot sees every claim committed
 * under the lock before, and which also says what held it back. Claims of
 * one queue so go one at a time across every node; queues without limits
 * never come here. On Postgres the whole transaction goes as one text, in
 * one round trip, running the claim prepared on the connection by its
 * generic plan, or written out behind a transaction pooler (db/prepared-script.ts).
 *
 * A partitioned claim ranks the available jobs within their partitions; all
 * of them on a long backlog would make each claim cost in proportion to it.
 * So it ranks the first RANKED_WINDOW in queue order, and all of them at the
 * queue's first claim here, every FULL_PASS_MS after, and at once when the
 * window gave the claim nothing while more jobs are available (its
 * partitions at their limits): a partition whose jobs all lie beyond the
 * window, behind partitions that still take jobs, waits at most FULL_PASS_MS.
 */
export class LimitedClaims {
  readonly sql: LimitStatements;
  /** When each partitioned queue's claims last ranked every available job (performance.now()). */
  private readonly fullPassAt = new Map<string, number>();

  constructor(
    private readonly db: Database,
    prefix: string,
    /** ms each statement of a claim may run, the lock's wait included (the `statementTimeout` option). */
    private readonly statementTimeout: number,
    private readonly fullPassEveryMs = FULL_PASS_MS,
  ) {
    this.sql = buildLimitStatements(prefix);
  }

  /** `finished`: this node's jobs that finished with their outcome not written yet (their slots are free). */
  async claim(
    queue: string,
    demand: number,
    node: string,
    limits: QueueLimits,
    finished: number[] = [],
  ): Promise<LimitedClaimResult> {
    if (!limits.partition) return this.claimOnce(queue, demand, node, limits, finished, null);
    const last = this.fullPassAt.get(queue);
    if (last === undefined || performance.now() - last >= this.fullPassEveryMs) {
      this.fullPassAt.set(queue, performance.now());
      return this.claimOnce(queue, demand, node, limits, finished, null);
    }
    const windowed = await this.claimOnce(queue, demand, node, limits, finished, RANKED_WINDOW);
    if (windowed.jobs.length > 0 || !windowed.heldBack) return windowed;
    // Nothing in the window, with jobs left: they may lie beyond it.
    this.fullPassAt.set(queue, performance.now());
    return this.claimOnce(queue, demand, node, limits, finished, null);
  }

  /** One claim transaction; `ranked`: how many available jobs a partitioned claim ranks (null: all). */
  private async claimOnce(
    queue: string,
    demand: number,
    node: string,
    limits: QueueLimits,
    finished: number[],
    ranked: number | null,
  ): Promise<LimitedClaimResult> {
    const params = claimParams(queue, demand, node, limits, finished);
    const statement = limits.partition ? this.sql.claimPartitioned : this.sql.claim;
    const values = limits.partition ? [...params, ranked] : params.slice(0, 7);
    const rows = runsPrepared(this.db)
      ? await runPrepared(this.db, this.preamble(queue), statement, values)
      : this.db.kind === 'postgres' && this.db.boundedSession
        ? // Behind a transaction pooler a statement prepared on one server connection is unknown on the next.
          await this.script(literalScript(this.preamble(queue), statement, values))
        : await this.transaction(queue, (tx) => tx.query<ClaimRow>(statement, values));
    const row = rows.find((r): r is ClaimRow => r !== null && typeof r === 'object' && 'jobs' in r);
    if (!row) throw new Error(`nest-oban: the claim of queue '${queue}' returned no row`);
    const jobs = (typeof row.jobs === 'string' ? JSON.parse(row.jobs) : row.jobs).map(jobFromRow);
    const wait = row.wait_ms === null ? undefined : Math.max(0, Number(row.wait_ms));
    return { jobs, heldBack: jobs.length < demand && row.more, windowFreesInMs: wait };
  }

  /** Running, available and what is left of the limits, per partition of `queue`. */
  async partitions(queue: string, limits: QueueLimits): Promise<PartitionState[]> {
    const { mode, keys } = partitionParams(limits.partition);
    const rows = await this.db.query<{ partition: string; running: number; available: number; started: number }>(
      this.sql.limitsByPartition,
      [queue, limits.rateLimit?.period ?? null, mode, keys],
    );
    return rows.map((row) => ({
      partition: row.partition,
      running: row.running,
      available: row.available,
      remainingRate: limits.rateLimit ? Math.max(0, limits.rateLimit.allowed - row.started) : undefined,
      remainingGlobal: limits.globalLimit !== undefined ? Math.max(0, limits.globalLimit - row.running) : undefined,
    }));
  }

  private preamble(queue: string): string[] {
    return claimPreamble(this.sql.lockQueue(queue), this.statementTimeout);
  }

  /** A claim in one round trip (literalScript), on one connection; an error rolls its transaction back. */
  private script(text: string): Promise<unknown[]> {
    return this.db.boundedSession!((session) => runScript(session, text));
  }

  /** `fn` in a transaction of its own after the queue's lock (PGlite, or a Database without boundedSession). */
  private transaction<T>(queue: string, fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return underQueueLock(this.db, this.sql.lockQueue(queue), this.statementTimeout, fn);
  }
}

/**
 * `fn` in a transaction of its own on one connection (bounded, where the
 * Database has boundedSession), after the queue's lock (`lockQueue`): BEGIN,
 * the timeouts and the lock in one round trip, as separate statements of one
 * simple query, then `fn`. The server ends the transaction, and frees the
 * lock, if it waits longer than a statement may run between `fn`'s
 * statements: a connection cut there (its client gave up on it) would
 * otherwise hold the queue's lock until the server noticed the loss.
 */
export function underQueueLock<T>(
  db: Database,
  lockQueue: string,
  statementTimeout: number,
  fn: (tx: Queryable) => Promise<T>,
): Promise<T> {
  const ms = Math.round(statementTimeout);
  const timeout =
    db.kind === 'postgres'
      ? `SET LOCAL statement_timeout = ${ms}; SET LOCAL idle_in_transaction_session_timeout = ${ms}; `
      : '';
  const begin = `BEGIN; ${timeout}${lockQueue}`;
  return db.boundedSession
    ? db.boundedSession((session) => inTransaction(session, fn, begin))
    : db.session((session) => inTransaction(session, fn, begin));
}

/** What a claim statement returns: its jobs as JSON rows, and what held it back. */
interface ClaimRow {
  jobs: Array<Record<string, unknown>> | string;
  more: boolean;
  wait_ms: number | null;
}

function claimParams(queue: string, demand: number, node: string, limits: QueueLimits, finished: number[]) {
  const { mode, keys } = partitionParams(limits.partition);
  return [
    queue,
    demand,
    node,
    limits.globalLimit ?? null,
    limits.rateLimit?.allowed ?? null,
    limits.rateLimit?.period ?? 0,
    finished,
    mode,
    keys,
  ];
}

function partitionParams(partition: QueuePartition | undefined): { mode: string | null; keys: string[] } {
  if (!partition) return { mode: null, keys: [] };
  if ('by' in partition) return { mode: 'worker', keys: [] };
  if ('args' in partition) return { mode: 'args', keys: partition.args };
  return { mode: 'meta', keys: partition.meta };
}
