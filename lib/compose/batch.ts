import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import type { Database, Queryable } from '../db/database';
import { ObanValidationError } from '../errors';
import { type InsertedRow, type Job, type JobArgs, type JobState, jobFromInsert } from '../job';
import type { InsertRow } from '../store/job-store';
import type { JobOptions } from '../validation/job-options';
import type { ObanWorker, WorkerClass } from '../worker/worker.interface';
import type { ComposeStatements } from './statements';
import { inTransaction } from './transaction';

/** The callbacks a batch may have; each is a job, inserted once, in the transaction of the member outcome that makes it due. */
export const BATCH_CALLBACKS = ['onCompleted', 'onExhausted', 'onDiscarded'] as const;
export type BatchCallbackName = (typeof BATCH_CALLBACKS)[number];

/** A callback job: a worker and its args, with job options. Its meta gets `callback_of_batch` and `batch_callback`. */
export interface BatchCallback extends JobOptions {
  worker: WorkerClass | string;
  args?: JobArgs;
}

/**
 * - `onCompleted`: every member completed (once; a member retried and then
 *   completed can make it due later, after `onExhausted`);
 * - `onExhausted`: every member finished in any way (completed, discarded,
 *   cancelled or deleted unfinished);
 * - `onDiscarded`: the first member discarded, cancelled or deleted unfinished.
 */
export interface BatchOptions {
  /** The batch's id (default: a random UUID), kept in each member's `meta.batch_id`. */
  id?: string;
  onCompleted?: BatchCallback;
  onExhausted?: BatchCallback;
  onDiscarded?: BatchCallback;
}

/** A batch's counts and the callback jobs fired so far. */
export interface BatchStatus {
  id: string;
  total: number;
  /** Members not finished yet. */
  pending: number;
  completed: number;
  /** Discarded, cancelled, or deleted before they finished. */
  failed: number;
  /** True when no member is left to finish. */
  finished: boolean;
  /** Ids of the callback jobs inserted, by callback. */
  fired: Partial<Record<BatchCallbackName, number>>;
  /** Members as they are now, by state (deleted ones are not counted here). */
  states: Partial<Record<JobState, number>>;
}

/** One member as given to `add`/`addToBatch`. */
export interface BatchMemberInput {
  worker: WorkerClass | string;
  args: unknown;
  options: JobOptions;
  where: string;
}

type ArgsOfWorker<W> = W extends ObanWorker<infer A, any> ? A : JobArgs;

const KIND_OF: Record<BatchCallbackName, string> = {
  onCompleted: 'completed',
  onExhausted: 'exhausted',
  onDiscarded: 'discarded',
};
const CALLBACK_OF: Record<string, BatchCallbackName> = {
  completed: 'onCompleted',
  exhausted: 'onExhausted',
  discarded: 'onDiscarded',
};

/** Writes a batch; given by the `Oban` service, which validates jobs. */
export type BatchWriter = (
  id: string,
  callbacks: Partial<Record<BatchCallbackName, BatchCallback>>,
  members: BatchMemberInput[],
  manager: EntityManager | undefined,
) => Promise<{ id: string; jobs: Job[] }>;

/**
 * A group of jobs with callbacks, inserted in one statement:
 *
 *   await oban.batch({ onCompleted: { worker: ReportWorker, args: { day } } })
 *     .add(ExportWorker, { part: 1 })
 *     .add(ExportWorker, { part: 2 })
 *     .insert();
 */
export class Batch {
  private readonly members: BatchMemberInput[] = [];
  readonly id: string;

  constructor(
    private readonly writer: BatchWriter,
    private readonly options: BatchOptions,
  ) {
    if (typeof options !== 'object' || options === null) {
      throw new ObanValidationError(
        'batch: options must be an object ({ id?, onCompleted?, onExhausted?, onDiscarded? })',
      );
    }
    const unknown = Object.keys(options).filter((k) => k !== 'id' && !BATCH_CALLBACKS.includes(k as BatchCallbackName));
    if (unknown.length > 0) {
      throw new ObanValidationError(
        `batch: unknown option ${unknown.map((k) => `'${k}'`).join(', ')} (options: id, ${BATCH_CALLBACKS.join(', ')})`,
      );
    }
    this.id = checkBatchId(options.id ?? randomUUID(), 'batch');
  }

  add<W extends ObanWorker<any, any>>(
    worker: abstract new (...args: any[]) => W,
    args: ArgsOfWorker<W>,
    options?: JobOptions,
  ): this;
  add(worker: string, args: JobArgs, options?: JobOptions): this;
  add(worker: WorkerClass | string, args: unknown, options: JobOptions = {}): this {
    this.members.push({ worker, args, options, where: `batch member ${this.members.length}` });
    return this;
  }

  /** Inserts the batch and its members (in the caller's transaction with `manager`); an empty batch fires at once. */
  insert(options: { manager?: EntityManager } = {}): Promise<{ id: string; jobs: Job[] }> {
    const callbacks: Partial<Record<BatchCallbackName, BatchCallback>> = {};
    for (const name of BATCH_CALLBACKS) if (this.options[name] !== undefined) callbacks[name] = this.options[name];
    return this.writer(this.id, callbacks, this.members, options?.manager);
  }
}

export function checkBatchId(id: unknown, where: string): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > 255) {
    throw new ObanValidationError(`${where}: batch id must be a string of 1 to 255 characters, got ${String(id)}`);
  }
  return id;
}

/** Batches in `oban_batches` (schema version 5), their members in `oban_jobs`. */
export class BatchStore {
  constructor(
    private readonly db: Database,
    private readonly sql: ComposeStatements,
  ) {}

  /** Inserts the batch row and its members; fires the callbacks of an empty batch in the same transaction. */
  async create(
    id: string,
    callbacks: Partial<Record<BatchCallbackName, InsertRow>>,
    rows: InsertRow[],
    via: Queryable | undefined,
  ): Promise<Job[]> {
    const byKind: Record<string, InsertRow> = {};
    for (const [name, row] of Object.entries(callbacks)) byKind[KIND_OF[name as BatchCallbackName]] = row;
    const write = async (q: Queryable) => {
      const jobs = await this.insertMembers(q, this.sql.createBatch, [id, JSON.stringify(byKind)], rows);
      if (rows.length === 0) await q.query(this.sql.fireBatch, [id]);
      return jobs;
    };
    try {
      return await (rows.length === 0 ? inTransaction(this.db, via, write) : write(via ?? this.db));
    } catch (error) {
      if ((error as { code?: string }).code === '23505') {
        throw new ObanValidationError(`batch: a batch with id '${id}' exists already`);
      }
      throw error;
    }
  }

  /** Adds members to a batch that still has unfinished members. */
  async grow(id: string, rows: InsertRow[], via: Queryable | undefined, where: string): Promise<Job[]> {
    if (rows.length === 0) return [];
    const jobs = await this.insertMembers(via ?? this.db, this.sql.growBatch, [id], rows, true);
    if (jobs.length === 0) {
      const status = await this.status(id);
      throw new ObanValidationError(
        status
          ? `${where}: batch '${id}' has finished (no member left to run; its callbacks are due or fired); start a new batch`
          : `${where}: no batch '${id}'`,
      );
    }
    return jobs;
  }

  async status(id: string): Promise<BatchStatus | null> {
    const [row] = await this.db.query(this.sql.batchStatus, [id]);
    if (!row) return null;
    const fired: Partial<Record<BatchCallbackName, number>> = {};
    for (const [kind, jobId] of Object.entries(row.fired ?? {})) fired[CALLBACK_OF[kind]] = Number(jobId);
    return {
      id,
      total: row.total,
      pending: row.pending,
      completed: row.completed,
      failed: row.failed,
      finished: row.pending === 0,
      fired,
      states: row.states ?? {},
    };
  }

  private async insertMembers(
    q: Queryable,
    statement: ComposeStatements['createBatch'],
    params: unknown[],
    rows: InsertRow[],
    gated = false,
  ): Promise<Job[]> {
    const json = JSON.stringify(rows);
    const stored = await q.query<InsertedRow>(statement, [...params, json, rows.length]);
    if (gated && stored.length === 0) return [];
    if (stored.length !== rows.length)
      throw new Error(`nest-oban: inserted ${stored.length} of ${rows.length} members`);
    const sent: InsertRow[] = JSON.parse(json);
    return stored.sort((a, b) => Number(a.id) - Number(b.id)).map((row, i) => jobFromInsert(sent[i], row));
  }
}
