import { Client, Pool } from 'pg';
import { uniqueSchema } from '../../common/database';
import { SchemaObserver } from '../observer';
import type { JobArgs, Lane, OnJob, ProducerSide, WorkerPlan, WorkerSide } from '../system';

/**
 * The floor of a durable Postgres queue, no library: what any queue that
 * stores a job, wakes its worker by LISTEN/NOTIFY and claims with
 * `FOR UPDATE SKIP LOCKED` pays on this machine. A plain table; the insert is
 * one prepared statement that also NOTIFYs, committed durably; the worker
 * claims up to its free slots in one prepared statement, committed durably,
 * and deletes finished jobs in one statement per batch. No retries, no
 * timeouts, no kept rows: it measures the round trips and commits, not a
 * queue's features. Its insert-to-start is the least a durable Postgres queue
 * can reach here (two commits, each waiting for its WAL flush, and a
 * notification between them). Its drains are no such bound: it claims the
 * next batch only once the last one is deleted, with nothing claimed ahead.
 */
const CHANNEL = 'bench_floor';

const tableSql = (schema: string) => `"${schema}".jobs`;

export class PostgresFloorProducer implements ProducerSide {
  readonly settings =
    'a plain table, INSERT ... RETURNING pg_notify() and a claim of the free slots by UPDATE ... FOR UPDATE SKIP LOCKED, both prepared, durable commits';
  readonly pollCycleMs = 0;
  readonly completedRows = 'deleted on completion';
  readonly location = uniqueSchema('bench_floor');
  private readonly observer: SchemaObserver;
  private readonly pool: Pool;

  constructor(url: string) {
    this.observer = new SchemaObserver(url, 'postgres-floor', this.location);
    this.pool = new Pool({ connectionString: url, max: 2 });
  }

  async setup(): Promise<void> {
    await this.observer.query(`CREATE SCHEMA "${this.location}"`);
    await this.observer.query(
      `CREATE TABLE ${tableSql(this.location)} (id bigserial PRIMARY KEY, args jsonb NOT NULL, running boolean NOT NULL DEFAULT false)`,
    );
    // The claim's index: the waiting jobs only, as nest-oban's and graphile-worker's are.
    await this.observer.query(`CREATE INDEX ON ${tableSql(this.location)} (id) WHERE NOT running`);
  }

  async insertBulk(from: number, count: number): Promise<void> {
    const args = Array.from({ length: count }, (_, i) => ({ key: from + i }));
    await this.pool.query({
      name: 'floor_insert_bulk',
      // A data-modifying WITH runs whether or not the SELECT reads it.
      text: `WITH j AS (INSERT INTO ${tableSql(this.location)} (args) SELECT value FROM jsonb_array_elements($1::jsonb))
             SELECT pg_notify('${CHANNEL}', '')`,
      values: [JSON.stringify(args)],
    });
  }

  async insertOne(key: number, lane: Lane): Promise<void> {
    if (lane !== 'main') throw new Error('bench: the floor runs one queue');
    const args: JobArgs = { key, probe: 1 };
    await this.pool.query({
      name: 'floor_insert',
      text: `INSERT INTO ${tableSql(this.location)} (args) VALUES ($1) RETURNING id, pg_notify('${CHANNEL}', '')`,
      values: [JSON.stringify(args)],
    });
  }

  remaining(): Promise<number> {
    return this.observer.remaining();
  }

  async clear(): Promise<void> {
    await this.observer.query(`TRUNCATE ${tableSql(this.location)}`);
  }

  async teardown(): Promise<void> {
    await this.pool.end();
    await this.observer.drop();
  }
}

/** A LISTEN connection that wakes the claim loop, and one connection that claims and deletes. */
export class PostgresFloorWorkers implements WorkerSide {
  private listener: Client | undefined;
  private worker: Client | undefined;
  private concurrency = 10;
  private running = false;
  private claiming: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly url: string,
    private readonly schema: string,
    private readonly onJob: OnJob,
  ) {}

  async prepare(plan: WorkerPlan): Promise<void> {
    await this.close();
    this.concurrency = plan.concurrency;
    this.worker = new Client({ connectionString: this.url });
    this.listener = new Client({ connectionString: this.url });
    await Promise.all([this.worker.connect(), this.listener.connect()]);
    this.listener.on('notification', () => this.wake());
    await this.listener.query(`LISTEN ${CHANNEL}`);
  }

  async start(): Promise<void> {
    this.running = true;
    this.wake();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.claiming;
  }

  async close(): Promise<void> {
    await this.stop();
    await Promise.all([this.listener?.end(), this.worker?.end()]);
    this.listener = this.worker = undefined;
  }

  private wake(): void {
    if (!this.running) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    this.claiming = this.loop().finally(() => (this.claiming = undefined));
  }

  /** Claims a batch, runs it, deletes it; again while batches come back full or a wake came meanwhile. */
  private async loop(): Promise<void> {
    const jobs = tableSql(this.schema);
    for (;;) {
      this.again = false;
      const { rows } = await this.worker!.query<{ id: string; args: JobArgs }>({
        name: 'floor_claim',
        text: `UPDATE ${jobs} SET running = true
               WHERE id IN (SELECT id FROM ${jobs} WHERE NOT running ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
               RETURNING id, args`,
        values: [this.concurrency],
      });
      for (const row of rows) this.onJob(row.args.key, row.args.probe === 1);
      if (rows.length > 0) {
        await this.worker!.query({
          name: 'floor_delete',
          text: `DELETE FROM ${jobs} WHERE id = ANY($1::bigint[])`,
          values: [rows.map((r) => r.id)],
        });
      }
      if (!this.running || (rows.length < this.concurrency && !this.again)) return;
    }
  }
}
