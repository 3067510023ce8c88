import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import * as path from 'node:path';
import type { LimitsNodeSettings } from './fixtures/limits-node';
import { TestNode, killAll } from './support/cluster';
import { DATABASE_URL, TestSchema } from './support/db';
import { sleep, waitFor } from './support/wait';

/** Limits across several real node processes on one database (test/fixtures/limits-node.ts). */

function startLimitsNode(schema: TestSchema, oban: LimitsNodeSettings['oban'], cpu = false): TestNode {
  const settings: LimitsNodeSettings = { prefix: schema.prefix, databaseUrl: DATABASE_URL, oban, cpu };
  const child = fork(path.join(__dirname, 'fixtures/limits-node.ts'), [], {
    execArgv: ['-r', 'ts-node/register'],
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true', OBAN_LIMITS_NODE: JSON.stringify(settings) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new TestNode(child);
}

interface Run {
  job_id: number;
  node: string;
  tenant: string | null;
  /** Epoch ms, by the database's clock. */
  claimed: number;
  started: number;
  ended: number | null;
}

async function runsOf(schema: TestSchema): Promise<Run[]> {
  const rows = await schema.query(
    `SELECT job_id, node, tenant,
       extract(epoch FROM claimed_at) * 1000 AS claimed,
       extract(epoch FROM started_at) * 1000 AS started,
       extract(epoch FROM ended_at) * 1000 AS ended
     FROM "${schema.prefix}".limit_runs ORDER BY started_at`,
  );
  return rows.map((r) => ({
    job_id: Number(r.job_id),
    node: r.node,
    tenant: r.tenant,
    claimed: Number(r.claimed),
    started: Number(r.started),
    ended: r.ended === null ? null : Number(r.ended),
  }));
}

/** The most runs in progress at once (an unfinished run lasts until `openEnd`). */
function mostAtOnce(runs: Run[], openEnd = Infinity): number {
  const edges = runs.flatMap((r) => [
    { at: r.started, d: 1 },
    { at: r.ended ?? openEnd, d: -1 },
  ]);
  // At equal times an end comes first: a run that ends as another starts is not an overlap.
  edges.sort((a, b) => a.at - b.at || a.d - b.d);
  let now = 0;
  let most = 0;
  for (const e of edges) most = Math.max(most, (now += e.d));
  return most;
}

function setUp(label: string) {
  const schema = new TestSchema(label);
  const nodes: TestNode[] = [];
  before(async () => {
    await schema.migrate();
    await schema.query(`CREATE TABLE "${schema.prefix}".limit_runs (
      id bigserial PRIMARY KEY, job_id bigint NOT NULL, node text NOT NULL, tenant text,
      claimed_at timestamptz NOT NULL, started_at timestamptz NOT NULL, ended_at timestamptz)`);
  });
  after(async () => {
    await killAll(nodes);
    await schema.drop();
  });
  const start = async (count: number, oban: LimitsNodeSettings['oban'], cpu = false) => {
    const group = Array.from({ length: count }, () => startLimitsNode(schema, oban, cpu));
    nodes.push(...group);
    await Promise.all(group.map((n) => n.ready));
    return group;
  };
  const insert = async (n: number, args: (i: number) => object, queue = 'limited', worker = 'LimitWorker') => {
    await schema.query(
      `INSERT INTO ${schema.jobs} (queue, worker, args) SELECT $2, $3, a FROM unnest($1::jsonb[]) AS a`,
      [Array.from({ length: n }, (_, i) => JSON.stringify(args(i))), queue, worker],
    );
    await schema.query(`SELECT pg_notify($1, $2)`, [`${schema.prefix}.oban_insert`, queue]);
  };
  return { schema, start, insert };
}

describe('limits across nodes: a global limit of 3 over 4 nodes', () => {
  const { schema, start, insert } = setUp('limits_global');

  it('never runs more than 3 at once, and keeps 3 running while there is work', async () => {
    // Each node may run 2: reaching 3 takes two nodes at once.
    const group = await start(4, { queues: { limited: { limit: 2, globalLimit: 3 } } });
    await insert(60, () => ({ ms: 60 }));
    await waitFor('all done', async () => (await schema.count(`state = 'completed'`)) === 60, {
      timeout: 60_000,
      interval: 50,
    });
    const runs = await runsOf(schema);
    assert.equal(new Set(runs.map((r) => r.job_id)).size, 60);
    assert.equal(mostAtOnce(runs), 3);
    assert.ok(new Set(runs.map((r) => r.node)).size >= 2, 'more than one node ran jobs');
    await Promise.all(group.map((n) => n.stop()));
  });
});

describe('limits across nodes: a global limit leased in shares', () => {
  const { schema, start, insert } = setUp('limits_shares');

  it('a node joining a busy queue gets its even share as the first one shrinks; a stopped node gives its share back', async () => {
    const oban = { queues: { limited: { limit: 4, globalLimit: 4 } } };
    const [first] = await start(1, oban);
    // 7.5 s of work at 4 at once: the second node boots (seconds, on a loaded machine) while it lasts.
    await insert(300, () => ({ ms: 100 }));
    await waitFor('the first node runs 4', async () => mostAtOnce(await runsOf(schema), Date.now() + 1e6) >= 4, {
      timeout: 10_000,
      interval: 20,
    });
    const [second] = await start(1, oban);
    const joined = Date.now();
    await waitFor('all done', async () => (await schema.count(`state = 'completed'`)) === 300, {
      timeout: 60_000,
      interval: 50,
    });
    const runs = await runsOf(schema);
    assert.equal(new Set(runs.map((r) => r.job_id)).size, 300);
    assert.equal(mostAtOnce(runs), 4, 'never more than the global limit');
    const seconds = runs.filter((r) => r.node === second.node);
    assert.ok(seconds.length > 0, 'the second node ran jobs');
    // Within a review or two of joining, not once the first node ran out of work.
    const firstStart = Math.min(...seconds.map((r) => r.started));
    assert.ok(
      firstStart - joined < 2_000,
      `its first job started ${Math.round(firstStart - joined)} ms after it joined`,
    );
    const both = runs.filter((r) => r.started >= firstStart && r.node === first.node);
    assert.ok(both.length > 0, 'the first node went on running beside it');
    assert.ok(mostAtOnce(seconds) >= 2, 'the second node got at least its even part');
    const shares = () => schema.query(`SELECT node, share FROM "${schema.prefix}".oban_limit_shares`);
    assert.equal((await shares()).length, 2, 'both nodes hold a row');
    await first.stop();
    await second.stop();
    assert.deepEqual(await shares(), [], 'stopped nodes give their shares back');
  });
});

describe('limits across nodes: a rate limit of 50 per 2 s over 3 nodes', () => {
  const { schema, start, insert } = setUp('limits_rate');

  it('never starts more than 50 in any 2 s window, and reaches the rate within 10% while there is work', async () => {
    const group = await start(3, { queues: { limited: { limit: 10, rateLimit: { allowed: 50, period: 2 } } } });
    await insert(200, () => ({ ms: 5 }));
    await waitFor('all done', async () => (await schema.count(`state = 'completed'`)) === 200, {
      timeout: 60_000,
      interval: 100,
    });
    const runs = await runsOf(schema);
    assert.equal(runs.length, 200);
    // Starts as the database recorded them: each claim's time (a job starts on its node right after).
    const starts = runs.map((r) => r.claimed).sort((a, b) => a - b);
    let most = 0;
    for (let i = 0, j = 0; i < starts.length; i++) {
      while (starts[i] - starts[j] >= 2_000) j++;
      most = Math.max(most, i - j + 1);
    }
    assert.ok(most <= 50, `${most} starts in one 2 s window`);
    const first = starts[0];
    const inSix = starts.filter((t) => t < first + 6_000).length;
    assert.ok(inSix >= 135, `${inSix} starts in the first 6 s (the rate allows 150)`);
    assert.ok(new Set(runs.map((r) => r.node)).size >= 2, 'more than one node ran jobs');
    await Promise.all(group.map((n) => n.stop()));
  });
});

describe('limits across nodes: partitioned by args.tenant, a global limit of 2 per tenant', () => {
  const { schema, start, insert } = setUp('limits_partition');

  it('no tenant runs more than 2 at once, and a small tenant starts while a large one has a backlog', async () => {
    const group = await start(3, {
      queues: { limited: { limit: 4, globalLimit: 2, partition: { args: ['tenant'] } } },
    });
    await insert(60, () => ({ tenant: 'big', ms: 100 }));
    await waitFor('the big tenant running', async () => (await schema.count(`state = 'executing'`)) > 0, {
      timeout: 10_000,
      interval: 20,
    });
    await insert(4, () => ({ tenant: 'small', ms: 100 }));
    await insert(6, () => ({ tenant: 'mid', ms: 100 }));
    await waitFor('all done', async () => (await schema.count(`state = 'completed'`)) === 70, {
      timeout: 60_000,
      interval: 100,
    });
    const runs = await runsOf(schema);
    for (const tenant of ['big', 'small', 'mid']) {
      const mine = runs.filter((r) => r.tenant === tenant);
      assert.equal(mostAtOnce(mine), 2, `tenant ${tenant} ran at most 2 (and reached 2)`);
    }
    assert.ok(mostAtOnce(runs) > 2, 'tenants ran side by side');
    const bigLastStart = Math.max(...runs.filter((r) => r.tenant === 'big').map((r) => r.started));
    const smallLastStart = Math.max(...runs.filter((r) => r.tenant === 'small').map((r) => r.started));
    assert.ok(
      smallLastStart < bigLastStart,
      'every job of the small tenant started while the big tenant still had jobs waiting',
    );
    await Promise.all(group.map((n) => n.stop()));
  });
});

describe('limits across nodes: a node killed mid-run', () => {
  const { schema, start, insert } = setUp('limits_rescue');

  it('frees its share of a global limit once its jobs are rescued, and not before', async () => {
    const oban = {
      queues: { limited: { limit: 3, globalLimit: 3 } },
      heartbeatInterval: 200,
      leaderTtl: 1_000,
      nodeTtl: 2_000,
      shutdownGracePeriod: 500,
    };
    const [victim] = await start(1, oban);
    await insert(6, () => ({ ms: 60_000 }));
    await waitFor('the first node runs 3', async () => (await runsOf(schema)).length === 3, {
      timeout: 10_000,
      interval: 20,
    });
    const [survivor] = await start(1, oban);
    await sleep(1_500);
    assert.equal((await runsOf(schema)).filter((r) => r.node === survivor.node).length, 0, 'no slot left for it');

    const deadAt = await victim.kill();
    await waitFor(
      'the victim’s jobs rescued',
      async () => (await schema.count(`state = 'executing' AND attempted_by[1] = $1`, [victim.node])) === 0,
      { timeout: 30_000, interval: 50 },
    );
    const [rescue] = await schema.query(
      `SELECT min((errors[array_length(errors, 1)] ->> 'at')::timestamptz) AS at FROM ${schema.jobs}
       WHERE errors[array_length(errors, 1)] ->> 'error' LIKE 'NodeDiedError%'`,
    );
    assert.ok(rescue.at, 'the jobs were rescued as the lifeline does');
    await waitFor(
      'the survivor runs 3',
      async () => (await runsOf(schema)).filter((r) => r.node === survivor.node).length === 3,
      {
        timeout: 10_000,
        interval: 20,
      },
    );
    const runs = await runsOf(schema);
    const rescuedAt = new Date(rescue.at).getTime();
    for (const run of runs.filter((r) => r.node === survivor.node)) {
      assert.ok(run.claimed >= rescuedAt, 'the survivor claimed nothing before the victim’s jobs were rescued');
    }
    // Never more than 3 at once, counting the victim's runs as running until it died.
    assert.equal(mostAtOnce(runs.map((r) => (r.node === victim.node ? { ...r, ended: r.ended ?? deadAt } : r))), 3);
    assert.equal(await schema.count(`state = 'executing'`), 3);
  });
});

describe('limits across nodes: a slot freed on one node', () => {
  const { schema, start, insert } = setUp('limits_wake');

  it('wakes a node held back by the global limit at once, not at its next poll', async () => {
    // Polls far apart: only the finishing node's notification can wake the node held back in time.
    const oban = {
      queues: { limited: { limit: 1, globalLimit: 1 } },
      stageInterval: 30_000,
      reconcileInterval: 30_000,
    };
    const nodes = await start(2, oban);
    await insert(1, () => ({ ms: 2_000 }));
    const [{ node: busy }] = await waitFor(
      'one node runs the long job',
      async () => {
        const runs = await runsOf(schema);
        return runs.length === 1 && runs;
      },
      { timeout: 10_000, interval: 20 },
    );
    const first = nodes.find((n) => n.node === busy)!;
    const second = nodes.find((n) => n.node !== busy)!;
    await insert(1, () => ({ ms: 0 })); // woken by the insert, the other node is held back: the one slot is taken
    await sleep(300);
    assert.equal((await runsOf(schema)).length, 1, 'held back while the slot is taken');
    // The first node stops claiming; its running job finishes and frees the one slot.
    await first.stop();
    const [long, short] = await waitFor(
      'the second job run',
      async () => {
        const runs = await runsOf(schema);
        return runs.length === 2 && runs[1].ended !== null && runs;
      },
      { timeout: 20_000, interval: 20 },
    );
    assert.equal(short.node, second.node);
    const wait = short.started - long.ended!;
    assert.ok(wait >= 0, 'never two at once');
    assert.ok(wait < 1_000, `started ${Math.round(wait)} ms after the slot was freed`);
    await second.stop();
  });
});

describe('limits across nodes: a cpu: true queue with a global limit', () => {
  const { schema, start, insert } = setUp('limits_cpu');

  it('the main process claims for its worker processes, within the global limit', async () => {
    const group = await start(2, { queues: { 'cpu-limited': { limit: 4, globalLimit: 3 } }, processes: 2 }, true);
    await insert(24, () => ({ ms: 80 }), 'cpu-limited', 'CpuLimitWorker');
    await waitFor('all done', async () => (await schema.count(`state = 'completed'`)) === 24, {
      timeout: 60_000,
      interval: 50,
    });
    const runs = await runsOf(schema);
    assert.equal(new Set(runs.map((r) => r.job_id)).size, 24);
    assert.equal(mostAtOnce(runs), 3);
    const pids = new Set(runs.map((r) => r.tenant));
    assert.ok(pids.size >= 2, `ran in worker processes (${[...pids].join(', ')})`);
    await Promise.all(group.map((n) => n.stop()));
  });
});
