import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PoolClient } from 'pg';
import { buildClusterStatements } from '../lib/db/cluster-statements';
import type { Statement } from '../lib/db/database';
import { buildStatements } from '../lib/db/statements';
import { TestSchema } from './support/db';

/** Scans of oban_jobs in a JSON plan that read the whole table. */
function seqScans(plan: any, found: string[] = []): string[] {
  if (plan && typeof plan === 'object') {
    if (plan['Node Type'] === 'Seq Scan' && plan['Relation Name'] === 'oban_jobs') found.push(plan['Alias']);
    for (const value of Object.values(plan)) seqScans(value, found);
  }
  return found;
}

/**
 * The statements a running cluster repeats, planned on a table the size a
 * busy app reaches (1,000,000 completed jobs kept, 100,000 waiting), both as
 * the planner would for the given values and as the generic plan a prepared
 * statement settles on: none may read oban_jobs from end to end.
 */
describe('query plans on a large oban_jobs', () => {
  const schema = new TestSchema('plans');
  let client: PoolClient;

  before(async () => {
    await schema.migrate();
    const jobs = schema.jobs;
    await schema.query(
      `INSERT INTO ${jobs} (queue, worker, args, state, attempt, attempted_at, attempted_by, completed_at, inserted_at, scheduled_at)
       SELECT 'q' || (g % 10), 'W', jsonb_build_object('i', g), 'completed', 1, now() - interval '1 hour', ARRAY['node-a'],
              now() - (g % 86400) * interval '1 second', now() - interval '2 days', now() - interval '2 days'
       FROM generate_series(1, 1000000) AS g`,
    );
    await schema.query(
      `INSERT INTO ${jobs} (queue, worker, args, state, scheduled_at)
       SELECT 'q' || (g % 10), 'W', jsonb_build_object('i', g),
              CASE WHEN g % 10 = 0 THEN 'scheduled' WHEN g % 10 = 1 THEN 'retryable' ELSE 'available' END::"${schema.prefix}".oban_job_state,
              now() + (g % 100 - 50) * interval '1 second'
       FROM generate_series(1, 100000) AS g`,
    );
    await schema.query(
      `INSERT INTO ${jobs} (queue, worker, args, state, attempt, attempted_at, attempted_by)
       SELECT 'q' || (g % 10), 'W', '{}', 'executing', 1, now(), ARRAY['node-' || (g % 3)] FROM generate_series(1, 200) AS g`,
    );
    await schema.query(`VACUUM ANALYZE ${jobs}`);
    client = await schema.pool.connect();
  });
  after(async () => {
    client?.release();
    await schema.drop();
  });

  const explain = async (statement: Statement, values: unknown[], mode: 'custom' | 'generic') => {
    await client.query(`SET plan_cache_mode = force_${mode}_plan`);
    const name = `plan_${statement.name}`.slice(0, 63);
    await client.query(`DEALLOCATE ALL`);
    await client.query(`PREPARE "${name}" AS ${statement.text}`);
    const params = values.map((v) => (v === null ? 'NULL' : `'${typeof v === 'string' ? v : JSON.stringify(v)}'`));
    const { rows } = await client.query(
      `EXPLAIN (FORMAT JSON) EXECUTE "${name}"${params.length ? `(${params.join(', ')})` : ''}`,
    );
    return rows[0]['QUERY PLAN'];
  };

  const sql = () => buildStatements(schema.prefix);
  const cluster = () => buildClusterStatements(schema.prefix);
  const cases: Array<[string, () => Statement, unknown[]]> = [
    ['fetch (claim)', () => sql().fetchJobs, ['q3', 500, 'node-a']],
    [
      'ack',
      () => sql().ackJobs,
      [JSON.stringify([{ id: 5, attempt: 1, state: 'completed', attempt_change: 0 }]), '{default}'],
    ],
    ['stage', () => sql().stageJobs, [5000, '{q1,q2,q3}']],
    ['prune', () => cluster().pruneJobs, [60, 10000]],
    ['rescue (lifeline)', () => cluster().rescueJobs, ['node-a', 30000, 5000, 60000]],
    ['rescue at boot', () => cluster().rescueOwnJobs, ['node-a', 5000]],
    [
      'reconcile',
      () => sql().reconcileNode,
      ['node-a', '{1,2}', '{1,2}', '{q1,q2}', new Date(Date.now() - 60_000).toISOString(), 1000],
    ],
  ];
  it('the check sees a sequential scan where there is one (args has no index)', async () => {
    const plan = await explain(
      { name: 'control', text: `SELECT id FROM ${schema.jobs} WHERE args->>'i' = $1` },
      ['7'],
      'custom',
    );
    assert.deepEqual(seqScans(plan), ['oban_jobs']);
  });

  it('fetch (claim): the generic plan, which every claim runs, updates the picked rows by id', async () => {
    const plan = await explain(sql().fetchJobs, ['q3', 500, 'node-a'], 'generic');
    const nodes: any[] = [];
    const walk = (node: any) => {
      if (node && typeof node === 'object') {
        if (node['Node Type']) nodes.push(node);
        for (const value of Object.values(node)) walk(value);
      }
    };
    walk(plan);
    // No join, whose kind the planner picks by a guessed LIMIT: on 20,000 rows the claim written as a join
    // got a generic plan that hashed the whole table, 7 ms a claim. By id through the primary key, it is 0.2 ms.
    assert.deepEqual(
      nodes.filter((n) => /Join|Nested Loop/.test(n['Node Type'])).map((n) => n['Node Type']),
      [],
    );
    assert.ok(
      nodes.some((n) => n['Node Type'] === 'Index Scan' && n['Index Name'] === 'oban_jobs_pkey'),
      JSON.stringify(plan),
    );
  });

  for (const [what, statement, values] of cases) {
    for (const mode of ['custom', 'generic'] as const) {
      it(`${what}: no sequential scan of oban_jobs (${mode} plan)`, async () => {
        const plan = await explain(statement(), values, mode);
        assert.deepEqual(seqScans(plan), [], JSON.stringify(plan));
      });
    }
  }
});
