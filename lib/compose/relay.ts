import type { Logger } from '@nestjs/common';
import type { Database } from '../db/database';
import {
  ObanValidationError,
  RelayAbortedError,
  RelayCancelledError,
  RelayDeletedError,
  RelayDiscardedError,
  type RelayError,
  RelayTimeoutError,
} from '../errors';
import { ObanEvents } from '../events/oban-events';
import { Notifier } from '../notifier/notifier';
import { setLongTimeout } from '../util/long-timer';
import type { ComposeStatements } from './statements';

/** How long to wait for a job's result. */
export interface AwaitOptions {
  /** ms to wait before rejecting with RelayTimeoutError; default 60000, `Infinity` for no limit. */
  timeout?: number;
  /** Rejects with RelayAbortedError when it aborts. */
  signal?: AbortSignal;
  /** Cancel the job too when the wait times out or is aborted (default: the job goes on). */
  cancel?: boolean;
}

export const DEFAULT_AWAIT_TIMEOUT_MS = 60_000;

/** A finished (or missing: state null) job as `relayRead` returns it. */
interface Ending {
  id: string | number;
  state: string | null;
  worker: string | null;
  result: unknown;
  last_error: { error?: string } | string | null;
}

interface Waiter {
  resolve(result: unknown): void;
  reject(error: RelayError | Error): void;
}

/**
 * Waits for jobs to finish on whichever node runs them. A trigger NOTIFYs the
 * relay channel with the id and state of each finished job marked `relay`;
 * the waiter then reads the row, so a result of any size arrives. A poll of
 * the awaited ids (every `pollInterval` ms, and at once after the LISTEN
 * connection comes back) covers a lost notification. It LISTENs on the
 * node's Notifier when given one (`share`), so a node holds one LISTEN
 * connection; without one (an Oban with no runtime) it opens its own on the
 * first wait.
 */
export class Relay {
  private readonly waiters = new Map<number, Set<Waiter>>();
  private listening: Promise<void> | undefined;
  private notifier: Notifier | undefined;
  /** The node's Notifier: not ours to stop. */
  private shared: Notifier | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly db: Database,
    private readonly sql: ComposeStatements,
    private readonly logger: Logger,
    private readonly pollInterval: number,
    private readonly pingInterval: number,
    /** Cancels a job (for `cancel: true`), as `Oban.cancelJob` does, stopping it where it runs. */
    private readonly cancelJob: (id: number) => Promise<unknown>,
  ) {}

  /** LISTENs on the node's `notifier` instead of a connection of its own; call before the first wait. */
  share(notifier: Notifier): void {
    if (this.listening) return;
    this.shared = notifier;
  }

  /** Resolves with job `id`'s result once it completes; rejects as `AwaitOptions` and the RelayError types say. */
  wait(id: number, options: AwaitOptions = {}, where = 'awaitJob'): Promise<unknown> {
    const { timeout, signal, cancel } = checkAwaitOptions(options, where);
    if (this.closed) return Promise.reject(new Error(`${where}: the Oban service is shutting down`));
    return new Promise((resolve, reject) => {
      let clearTimer: (() => void) | undefined;
      const done = () => {
        clearTimer?.();
        signal?.removeEventListener('abort', onAbort);
        const set = this.waiters.get(id);
        set?.delete(waiter);
        if (set?.size === 0) this.waiters.delete(id);
      };
      const waiter: Waiter = {
        resolve: (result) => {
          done();
          resolve(result);
        },
        reject: (error) => {
          done();
          reject(error);
        },
      };
      const giveUp = (error: RelayError) => {
        done();
        if (!cancel) return reject(error);
        this.cancelJob(id).then(
          () => reject(error),
          (cancelError: Error) => {
            this.logger.warn(`${where}: cancelling job ${id} after the wait ended failed: ${cancelError.message}`);
            reject(error);
          },
        );
      };
      const onAbort = () =>
        giveUp(new RelayAbortedError(`${where}: waiting for job ${id} was aborted${goesOn(cancel)}`, id, 'unknown'));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeout !== Infinity) {
        clearTimer = setLongTimeout(
          () =>
            giveUp(
              new RelayTimeoutError(
                `${where}: job ${id} did not finish within ${timeout} ms${goesOn(cancel)}`,
                id,
                'unknown',
              ),
            ),
          timeout,
        );
      }
      const set = this.waiters.get(id) ?? new Set<Waiter>();
      set.add(waiter);
      this.waiters.set(id, set);
      void this.watch(id);
    });
  }

  /** Rejects every wait still open and closes the LISTEN connection. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.pollTimer);
    for (const [id, set] of this.waiters) {
      for (const waiter of set)
        waiter.reject(new Error(`awaitJob: the Oban service shut down while waiting for job ${id}`));
    }
    this.waiters.clear();
    await this.listening?.catch(() => undefined);
    if (this.notifier !== this.shared) await this.notifier?.stop();
  }

  /** Listens (first), marks the job, then reads it: a job that finished before the mark is read, one after notifies. */
  private async watch(id: number): Promise<void> {
    try {
      await this.listen();
      await this.db.query(this.sql.relayMark, [id]);
      await this.check([id]);
    } catch (error) {
      this.logger.warn(`awaitJob: watching job ${id} failed (${(error as Error).message}); polling for it`);
    }
    this.schedulePoll();
  }

  private listen(): Promise<void> {
    if (this.db.kind === 'none' || this.db.canListen === false) return Promise.resolve();
    this.listening ??= (async () => {
      const shared = this.shared;
      if (shared) {
        this.notifier = shared;
        shared.onReconnect(() => void this.poll());
        // Down or not started: the poll covers until the node's connection LISTENs (and polls on reconnect).
        await shared.on(this.sql.relayChannel, (payload) => this.notified(payload));
        return;
      }
      // Its own events object: this connection is not the node's, whose connected/disconnected events health reads.
      const notifier = new Notifier(this.db, this.logger, this.pingInterval, new ObanEvents());
      notifier.on(this.sql.relayChannel, (payload) => this.notified(payload));
      notifier.onReconnect(() => void this.poll());
      this.notifier = notifier;
      await notifier.start();
    })();
    return this.listening;
  }

  private notified(payload: string): void {
    let id: number;
    try {
      id = Number(JSON.parse(payload).id);
    } catch {
      return;
    }
    if (this.waiters.has(id)) {
      this.check([id]).catch((error: Error) =>
        this.logger.warn(`awaitJob: reading job ${id} failed (${error.message}); the poll tries again`),
      );
    }
  }

  private schedulePoll(): void {
    if (this.pollTimer || this.closed || this.waiters.size === 0) return;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = undefined;
      void this.poll();
    }, this.pollInterval);
  }

  private async poll(): Promise<void> {
    try {
      if (this.waiters.size > 0) await this.check([...this.waiters.keys()]);
    } catch (error) {
      this.logger.warn(`awaitJob: polling awaited jobs failed (${(error as Error).message}); trying again`);
    }
    this.schedulePoll();
  }

  /** Settles the waiters of those of `ids` that have finished or are gone. */
  private async check(ids: number[]): Promise<void> {
    const rows = await this.db.query<Ending>(this.sql.relayRead, [ids]);
    for (const row of rows) this.settle(Number(row.id), row);
  }

  private settle(id: number, row: Ending): void {
    const set = this.waiters.get(id);
    if (!set) return;
    const outcome = settlement(id, row);
    for (const waiter of [...set]) {
      if (outcome.ok) waiter.resolve(outcome.result);
      else waiter.reject(outcome.error);
    }
  }
}

/** What a finished (or missing) job means to its waiter. */
export function settlement(
  id: number,
  row: { state: string | null; worker?: string | null; result?: unknown; last_error?: unknown },
): { ok: true; result: unknown } | { ok: false; error: RelayError } {
  if (row.state === 'completed') return { ok: true, result: row.result ?? null };
  const last = lastErrorText(row.last_error);
  const label = `job ${id}${row.worker ? ` (${row.worker})` : ''}`;
  if (row.state === 'discarded') {
    return {
      ok: false,
      error: new RelayDiscardedError(`${label} was discarded${last ? `: ${last}` : ''}`, id, 'discarded', last),
    };
  }
  if (row.state === 'cancelled') {
    return {
      ok: false,
      error: new RelayCancelledError(`${label} was cancelled${last ? `: ${last}` : ''}`, id, 'cancelled', last),
    };
  }
  return {
    ok: false,
    error: new RelayDeletedError(`job ${id} is gone: deleted before it finished, or never inserted`, id, 'deleted'),
  };
}

function lastErrorText(error: unknown): string | undefined {
  if (!error) return undefined;
  const value = typeof error === 'string' ? safeParse(error) : error;
  return typeof (value as { error?: unknown })?.error === 'string' ? (value as { error: string }).error : undefined;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function goesOn(cancel: boolean): string {
  return cancel ? '; the job was cancelled' : '; the job goes on (pass cancel: true to cancel it)';
}

/** Checks the options of a wait, naming the bad one. */
export function checkAwaitOptions(
  options: AwaitOptions,
  where: string,
): { timeout: number; signal?: AbortSignal; cancel: boolean } {
  if (typeof options !== 'object' || options === null) {
    throw new ObanValidationError(`${where}: options must be an object ({ timeout, signal, cancel })`);
  }
  const timeout = options.timeout ?? DEFAULT_AWAIT_TIMEOUT_MS;
  if (typeof timeout !== 'number' || !(timeout > 0)) {
    throw new ObanValidationError(
      `${where}: timeout must be ms > 0 (or Infinity for no limit), got ${String(options.timeout)}`,
    );
  }
  const { signal } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new ObanValidationError(`${where}: signal must be an AbortSignal, got ${typeof signal}`);
  }
  if (options.cancel !== undefined && typeof options.cancel !== 'boolean') {
    throw new ObanValidationError(`${where}: cancel must be true or false, got ${String(options.cancel)}`);
  }
  return { timeout, signal, cancel: options.cancel ?? false };
}
