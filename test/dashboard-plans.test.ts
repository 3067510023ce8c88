import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PoolClient } from 'pg';
import { buildClusterStatements } from '../lib/db/cluster-statements';
import { PgDatabase } from '../lib/db/pg-database';
import { BoundedReads } from '../lib/dashboard/bounded-reads';
import { DashboardStore } from '../lib/dashboard/dashboard-store';
import type { JobFilter } from '../lib/dashboard/job-filter';
import { buildDashboardStatements } from '../lib/dashboard/statements';
import { DATABASE_URL, TestSchema } from './support/db';

// Every read the dashboard runs, EXPLAINed on a table of a million jobs: none reads oban_jobs whole.

const ROWS = 1_000_000;

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

function walk(node: PlanNode, out: PlanNode[] = []): PlanNode[] {
  out.push(node);
  for (const child of node.Plans ?? []) walk(child, out);
  return out;
}

describe('dashboard: query plans on a table of a million jobs', () => {
  const schema = new TestSchema('dash_plans');
  const sql = buildDashboardStatements(schema.prefix);
  const clusterSql = buildClusterStatements(schema.prefix);
  let client: PoolClient;
  let db: PgDatabase;

  before(async () => {
    await schema.migrate();
    // Mostly completed jobs, as a busy system keeps for a week: 10 queues, 50 workers, few failures.
    await schema.query(
      `INSERT INTO ${schema.jobs}
         (state, queue, worker, args, tags, attempt, inserted_at, scheduled_at, attempted_at, completed_at, discarded_at)
       SELECT s.state::"${schema.prefix}".oban_job_state,
              CASE WHEN i % 9973 = 0 THEN 'rare' ELSE 'q' || (i % 10) END, 'Worker' || (i % 50),
              jsonb_build_object('account', i % 5000, 'note', 'row ' || i),
              CASE WHEN i % 100 = 0 THEN ARRAY['vip'] ELSE ARRAY[]::text[] END,
              CASE WHEN s.state IN ('available', 'scheduled') THEN 0 ELSE 1 END,
              t, t, CASE WHEN s.state IN ('available', 'scheduled') THEN NULL ELSE t END,
              CASE WHEN s.state = 'completed' THEN t END, CASE WHEN s.state = 'discarded' THEN t END
       FROM generate_series(1, ${ROWS}) AS i
       CROSS JOIN LATERAL (SELECT now() - (${ROWS} - i) * interval '500 milliseconds' AS t) AS ts
       CROSS JOIN LATERAL (SELECT CASE
         WHEN i % 1000 = 1 THEN 'discarded' WHEN i % 1000 = 2 THEN 'retryable' WHEN i % 1000 = 3 THEN 'cancelled'
         WHEN i % 1000 = 4 THEN 'executing' WHEN i > ${ROWS} - 2000 AND i % 2 = 0 THEN 'available'
         WHEN i > ${ROWS} - 2000 THEN 'scheduled' ELSE 'completed' END AS state) AS s`,
    );
    await schema.query(`VACUUM ANALYZE ${schema.jobs}`);
    client = await schema.pool.connect();
    db = PgDatabase.fromUrl(DATABASE_URL, 2);
  });
  after(async () => {
    client?.release();
    await db?.close();
    await schema.drop();
  });

  /** The plan of `text` with `values`, under the custom and the generic plan (pg picks either for a prepared statement). */
  async function plans(text: string, values: unknown[]): Promise<PlanNode[][]> {
    const out: PlanNode[][] = [];
    for (const mode of ['force_custom_plan', 'force_generic_plan']) {
      await client.query(`SET plan_cache_mode = ${mode}`);
      const { rows } = await client.query({ text: `EXPLAIN (FORMAT JSON) ${text}`, values });
      out.push(walk(rows[0]['QUERY PLAN'][0].Plan));
    }
    await client.query('RESET plan_cache_mode');
    return out;
  }

  /**
   * No plan of the statement reads oban_jobs whole (no Seq Scan), and run on
   * this table (EXPLAIN ANALYZE) it reads at most `maxRows` job rows: bounded
   * whatever the filter matches. Returns the indexes it used.
   */
  async function assertIndexBacked(
    label: string,
    text: string,
    values: unknown[],
    maxRows = 11_000,
  ): Promise<string[]> {
    const used = new Set<string>();
    for (const nodes of await plans(text, values)) {
      const seq = nodes.filter((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'oban_jobs');
      assert.deepEqual(seq, [], `${label}: no Seq Scan on oban_jobs`);
      for (const n of nodes) if (n['Index Name']) used.add(n['Index Name']);
    }
    assert.ok(used.size > 0, `${label}: reads oban_jobs through an index`);
    const { rows } = await client.query({ text: `EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, values });
    const read = walk(rows[0]['QUERY PLAN'][0].Plan)
      .filter((n) => n['Relation Name'] === 'oban_jobs')
      .reduce(
        (sum, n) => sum + (n['Actual Rows'] ?? 0) * (n['Actual Loops'] ?? 1) + (n['Rows Removed by Filter'] ?? 0),
        0,
      );
    assert.ok(read <= maxRows, `${label}: read ${read} job rows (at most ${maxRows}) via ${[...used].join(', ')}`);
    return [...used];
  }

  const list = (filter: JobFilter, cursor: number | null = null) => {
    const narrowed = Object.keys(filter).length > 1 || (filter.worker ?? filter.tag ?? filter.text) !== undefined;
    return DashboardStore.listValues(filter, cursor, narrowed ? 10_000 : 50, 50);
  };

  it('job lists: newest first along the primary key, or the state and queue indexes, with any filter', async () => {
    // Which index the planner picks depends on how common the value is; each stays within one window.
    const cases: Array<[string, string, unknown[]]> = [
      ['all', sql.listAll.text, list({})],
      ['all, from a cursor', sql.listAll.text, list({}, 500_000)],
      ['by worker', sql.listAll.text, list({ worker: 'Worker7' })],
      ['by tag', sql.listAll.text, list({ tag: 'vip' })],
      ['by text', sql.listAll.text, list({ text: 'row 12345' })],
      ['by state', sql.listByState.text, list({ state: 'discarded' })],
      ['by state and queue', sql.listByState.text, list({ state: 'completed', queue: 'q3' })],
      ['by state and text', sql.listByState.text, list({ state: 'retryable', text: 'account' }, 900_000)],
      ['by a rare queue', sql.listByQueue.text, list({ queue: 'rare' })],
      ['by a common queue', sql.listByQueue.text, list({ queue: 'q4' })],
      ['by queue and worker', sql.listByQueue.text, list({ queue: 'rare', worker: 'Worker4' })],
    ];
    for (const [label, text, values] of cases) {
      // One page of 50 without narrowing filters; a window of 10000 rows with them (plus the rows
      // of other states or queues a primary-key walk passes, when the planner finds the value common).
      await assertIndexBacked(label, text, values, values[1] === 50 ? 2_000 : 15_000);
    }
  });

  it('live figures: activity of the last minutes, jobs executing now', async () => {
    const since = new Date(Date.now() - 2 * 60_000).toISOString();
    const activity = await assertIndexBacked('activity', sql.activity.text, [since]);
    assert.ok(
      activity.some((u) => /completed_at/.test(u)),
      `activity walks completed_at (used ${activity})`,
    );
    const hour = new Date(Date.now() - 60 * 60_000).toISOString();
    await assertIndexBacked('activity over the hour', sql.activity.text, [hour]);
    await assertIndexBacked('executing', sql.executing.text, []);
  });

  it('counts on this table are the planner estimates, reading no job', async () => {
    const store = new DashboardStore(new BoundedReads(db, 5_000), sql, clusterSql, 10_000, 100_000);
    const all = await store.countJobs({});
    assert.equal(all.estimated, true);
    assert.ok(all.count > ROWS * 0.9 && all.count < ROWS * 1.1, `about a million (${all.count})`);
    const discarded = await store.countJobs({ state: 'discarded' });
    assert.equal(discarded.estimated, true);
    assert.ok(discarded.count > 500 && discarded.count < 2_000, `about 1000 discarded (${discarded.count})`);
  });

  it('lists give the right jobs on this table, and a narrow filter stops after its window', async () => {
    const store = new DashboardStore(new BoundedReads(db, 5_000), sql, clusterSql, 10_000, 100_000);
    const discarded = await store.listJobs({ state: 'discarded' }, null, 5);
    assert.deepEqual(
      discarded.jobs.map((j) => j.id),
      [999_001, 998_001, 997_001, 996_001, 995_001],
    );
    const next = await store.listJobs({ state: 'discarded' }, discarded.next, 2);
    assert.deepEqual(
      next.jobs.map((j) => j.id),
      [994_001, 993_001],
    );
    const rare = await store.listJobs({ text: 'no such text anywhere' }, null, 50);
    assert.deepEqual(rare.jobs, []);
    assert.equal(rare.searchedDownTo, ROWS - 10_000 + 1, 'searched one window of 10000 rows');
    assert.equal(rare.next, ROWS - 10_000 + 1);
  });

  it('bounds each read by its statement timeout, which ends with the read', async () => {
    const reads = new BoundedReads(db, 100);
    await assert.rejects(
      reads.run((q) => q.query('SELECT pg_sleep(2)')),
      /canceling statement due to statement timeout/,
    );
    const [row] = await reads.run((q) => q.query<{ statement_timeout: string }>('SHOW statement_timeout'));
    assert.equal(row.statement_timeout, '100ms');
    // The pool's connections keep their own setting (nest-oban's statementTimeout, 15 s by default).
    const [after] = await db.query<{ statement_timeout: string }>('SHOW statement_timeout');
    assert.equal(after.statement_timeout, '15s');
    await assert.rejects(
      reads.run((q) => q.query(`DELETE FROM ${schema.jobs} WHERE id = 1`)),
      /read-only transaction/,
    );
  });
});
