import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type INestApplicationContext, Module } from '@nestjs/common';
import { Oban, type ObanModuleOptions, Worker } from '../lib';
import { resolveConfig } from '../lib/config/config';
import { PgDatabase } from '../lib/db/pg-database';
import { LimitedClaims, type QueueLimits, RANKED_WINDOW } from '../lib/store/limited-claim';
import { createApp } from './support/app';
import { DATABASE_URL, TestSchema } from './support/db';
import { waitFor } from './support/wait';

const queuesOf = (queues: ObanModuleOptions['queues'], env: NodeJS.ProcessEnv = {}) =>
  resolveConfig({ connection: DATABASE_URL, queues }, env).queues;

describe('limits: configuration', () => {
  it('reads globalLimit, rateLimit and partition per queue; a queue without them has none', () => {
    assert.deepEqual(
      queuesOf({
        media: { limit: 10, globalLimit: 20, rateLimit: { allowed: 60, period: 60 }, partition: { args: ['tenant'] } },
        plain: 5,
      }),
      [
        {
          name: 'media',
          limit: 10,
          paused: false,
          limits: { globalLimit: 20, rateLimit: { allowed: 60, period: 60 }, partition: { args: ['tenant'] } },
        },
        { name: 'plain', limit: 5, paused: false },
      ],
    );
  });

  it('reads them in the string form and env OBAN_QUEUES', () => {
    assert.deepEqual(queuesOf('media:10:global=20:rate=60/60:partition=args.tenant+args.region,plain:5'), [
      {
        name: 'media',
        limit: 10,
        paused: false,
        limits: { globalLimit: 20, rateLimit: { allowed: 60, period: 60 }, partition: { args: ['tenant', 'region'] } },
      },
      { name: 'plain', limit: 5, paused: false },
    ]);
    assert.deepEqual(queuesOf(undefined, { OBAN_QUEUES: 'api:4:rate=10/1:partition=worker' }), [
      {
        name: 'api',
        limit: 4,
        paused: false,
        limits: { rateLimit: { allowed: 10, period: 1 }, partition: { by: 'worker' } },
      },
    ]);
    assert.deepEqual(queuesOf('one:1:global=1'), [
      { name: 'one', limit: 1, paused: false, limits: { globalLimit: 1 } },
    ]);
  });

  const refusals: Array<[string, ObanModuleOptions['queues'], RegExp]> = [
    [
      'a global limit of 0',
      { media: { limit: 2, globalLimit: 0 } },
      /queues\.media\.globalLimit must be a whole number >= 1.*got 0/,
    ],
    [
      'a rate limit without a period',
      { media: { limit: 2, rateLimit: { allowed: 5 } as never } },
      /queues\.media\.rateLimit\.period must be a whole number of seconds/,
    ],
    [
      'a rate limit of 0',
      { media: { limit: 2, rateLimit: { allowed: 0, period: 1 } } },
      /queues\.media\.rateLimit\.allowed must be a whole number >= 1/,
    ],
    [
      'an unknown rate key',
      { media: { limit: 2, rateLimit: { allowed: 1, period: 1, burst: 2 } as never } },
      /queues\.media\.rateLimit: unknown option 'burst'/,
    ],
    [
      'a partition without a limit',
      { media: { limit: 2, partition: { by: 'worker' } } },
      /queues\.media\.partition applies globalLimit or rateLimit per partition/,
    ],
    [
      'a partition by something else',
      { media: { limit: 2, globalLimit: 1, partition: { by: 'queue' } as never } },
      /queues\.media\.partition\.by must be 'worker', got 'queue'/,
    ],
    [
      'a partition of no keys',
      { media: { limit: 2, globalLimit: 1, partition: { args: [] } } },
      /queues\.media\.partition\.args must be a non-empty array of distinct key names/,
    ],
    [
      'two partition kinds',
      { media: { limit: 2, globalLimit: 1, partition: { args: ['a'], meta: ['b'] } as never } },
      /queues\.media\.partition must be one of/,
    ],
    [
      'a misspelt option',
      { media: { limit: 2, globalLimt: 3 } as never },
      /queues\.media: unknown option 'globalLimt'/,
    ],
    [
      'a bad string part',
      'media:2:global=x',
      /queues: queue 'media'\.globalLimit must be a whole number >= 1.*got 'x'/,
    ],
    ['a bad string rate', 'media:2:rate=5', /queues: queue 'media': rate=5 must be ALLOWED\/PERIOD/],
    ['an unknown string part', 'media:2:burst=5', /queues: queue 'media': cannot parse 'burst=5'/],
    [
      'a string partition of two kinds',
      'media:2:global=1:partition=args.a+meta.b',
      /partition=args\.a\+meta\.b must be worker, or keys of one of args or meta/,
    ],
  ];
  for (const [what, queues, message] of refusals) {
    it(`refuses ${what}, naming the queue and option`, () => {
      assert.throws(() => queuesOf(queues), message);
    });
  }
});

describe('limits: the capped claim against Postgres', () => {
  const schema = new TestSchema('limits_claim');
  let db: PgDatabase;
  let claims: LimitedClaims;
  before(async () => {
    await schema.migrate();
    db = PgDatabase.fromUrl(DATABASE_URL, 12);
    claims = new LimitedClaims(db, schema.prefix, 10_000);
  });
  after(async () => {
    await db.close();
    await schema.drop();
  });

  const insert = (queue: string, n: number, args: (i: number) => object = () => ({})) =>
    schema.query(
      `INSERT INTO ${schema.jobs} (queue, worker, args)
       SELECT $1, 'W', a FROM unnest($2::jsonb[]) AS a`,
      [queue, Array.from({ length: n }, (_, i) => JSON.stringify(args(i)))],
    );

  it('on a large table the claim reads by index and id: no sequential scan of oban_jobs', async () => {
    // 20,000 finished rows before 20 available ones: a scan would pass them all on every claim.
    await schema.query(
      `INSERT INTO ${schema.jobs} (queue, worker, args, state, completed_at)
       SELECT 'big', 'W', '{}', 'completed', now() FROM generate_series(1, 20000)`,
    );
    await insert('big', 20);
    await schema.query(`ANALYZE ${schema.jobs}`);
    const values = ["'big'", '10', "'n1'", '20', 'NULL', '0', "'{}'::bigint[]"];
    const text = claims.sql.claim.text.replace(/\$(\d+)/g, (_, n: string) => values[Number(n) - 1]);
    // As written out (behind a transaction pooler), and as the generic plan the claim runs by elsewhere.
    const scripts = [
      `BEGIN; EXPLAIN ${text}; ROLLBACK`,
      `PREPARE big_claim AS ${claims.sql.claim.text}; BEGIN; SET LOCAL plan_cache_mode = force_generic_plan; ` +
        `EXPLAIN EXECUTE big_claim(${values.join(', ')}); ROLLBACK; DEALLOCATE big_claim`,
    ];
    for (const script of scripts) {
      const results = (await schema.pool.query(script)) as unknown as Array<{
        command: string;
        rows: Array<Record<string, string>>;
      }>;
      const plan = results
        .find((r) => r.command === 'EXPLAIN')!
        .rows.map((r) => r['QUERY PLAN'])
        .join('\n');
      assert.doesNotMatch(plan, /Seq Scan on oban_jobs/, plan);
      assert.match(plan, /Index Cond: \(id = ANY/, plan);
    }
    await schema.query(`DELETE FROM ${schema.jobs} WHERE queue = 'big'`);
  });

  it('a global limit caps the claim at what is left, in one batch up to the budget', async () => {
    await insert('g', 30);
    const limits: QueueLimits = { globalLimit: 20 };
    const first = await claims.claim('g', 25, 'n1', limits);
    assert.equal(first.jobs.length, 20, 'one claim takes the whole budget');
    assert.equal(first.heldBack, true);
    const second = await claims.claim('g', 25, 'n2', limits);
    assert.deepEqual([second.jobs.length, second.heldBack], [0, true]);
    await schema.query(`UPDATE ${schema.jobs} SET state = 'completed' WHERE id = ANY($1::bigint[])`, [
      first.jobs.slice(0, 3).map((j) => j.id),
    ]);
    const third = await claims.claim('g', 25, 'n2', limits);
    assert.equal(third.jobs.length, 3, 'finished jobs free their slots');
    assert.ok(third.jobs.every((j) => j.state === 'executing' && j.attemptedBy[0] === 'n2'));
  });

  it('a claim returns its jobs in queue order (priority, then oldest), the order the node starts them in', async () => {
    // Ids in the reverse of that order: a claim returning rows as it updated them, by id, would give 4 first.
    await schema.query(
      `INSERT INTO ${schema.jobs} (queue, worker, args, priority)
       SELECT 'order', 'W', jsonb_build_object('n', n), n FROM unnest(ARRAY[4, 3, 2, 1]) AS n`,
    );
    for (const limits of [{ globalLimit: 10 }, { globalLimit: 10, partition: { by: 'worker' } }] as QueueLimits[]) {
      const { jobs } = await claims.claim('order', 4, 'n1', limits);
      assert.deepEqual(
        jobs.map((j) => j.args.n),
        [1, 2, 3, 4],
        JSON.stringify(limits),
      );
      await schema.query(`UPDATE ${schema.jobs} SET state = 'available', attempt = 0 WHERE queue = 'order'`);
    }
    await schema.query(`DELETE FROM ${schema.jobs} WHERE queue = 'order'`);
  });

  it('concurrent claims from many connections never exceed the global limit', async () => {
    const limits: QueueLimits = { globalLimit: 7 };
    for (let round = 0; round < 5; round++) {
      const queue = `race${round}`;
      await insert(queue, 200);
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => claims.claim(queue, 5, `node-${i}`, limits)),
      );
      const total = results.reduce((n, r) => n + r.jobs.length, 0);
      assert.equal(total, 7, `round ${round}`);
      assert.equal(await schema.count(`queue = $1 AND state = 'executing'`, [queue]), 7);
    }
  });

  it('a rate limit counts starts in a sliding window and says when it frees', async () => {
    await insert('r', 20);
    const limits: QueueLimits = { rateLimit: { allowed: 5, period: 2 } };
    const first = await claims.claim('r', 3, 'n1', limits);
    assert.equal(first.jobs.length, 3);
    // Finished jobs still count: the window is of starts, not of running jobs.
    await schema.query(`UPDATE ${schema.jobs} SET state = 'completed' WHERE queue = 'r' AND state = 'executing'`);
    const second = await claims.claim('r', 10, 'n2', limits);
    assert.equal(second.jobs.length, 2);
    assert.equal(second.heldBack, true);
    assert.ok(second.windowFreesInMs! > 1_500 && second.windowFreesInMs! <= 2_000, `${second.windowFreesInMs}`);
    const [started] = await schema.query(
      `SELECT sum(started)::int AS n FROM "${schema.prefix}".oban_rate_starts WHERE queue = 'r'`,
    );
    assert.equal(started.n, 5);
    // Two rows older than the window are pruned by the next claim.
    await schema.query(
      `UPDATE "${schema.prefix}".oban_rate_starts SET started_at = started_at - interval '5 seconds' WHERE queue = 'r'`,
    );
    const third = await claims.claim('r', 10, 'n1', limits);
    assert.equal(third.jobs.length, 5);
    const [rows] = await schema.query(
      `SELECT count(*)::int AS n, sum(started)::int AS started FROM "${schema.prefix}".oban_rate_starts WHERE queue = 'r'`,
    );
    assert.deepEqual(rows, { n: 1, started: 5 });
  });

  it('partitions by args: each has its own budget, and a small one is served beside a large backlog', async () => {
    await insert('p', 100, () => ({ tenant: 'big' }));
    await insert('p', 3, () => ({ tenant: 'small' }));
    await insert('p', 2, (i) => ({ tenant: 'mid', n: i }));
    const limits: QueueLimits = { globalLimit: 2, partition: { args: ['tenant'] } };
    const first = await claims.claim('p', 5, 'n1', limits);
    const tenants = first.jobs.map((j) => (j.args as { tenant: string }).tenant);
    // Rank 1 of every partition before rank 2 of any: the oldest small and mid jobs come in the first claim.
    assert.deepEqual([...tenants].sort(), ['big', 'big', 'mid', 'small', 'small']);
    const again = await claims.claim('p', 10, 'n1', limits);
    const all = [...tenants, ...again.jobs.map((j) => (j.args as { tenant: string }).tenant)];
    const count = (t: string) => all.filter((x) => x === t).length;
    assert.deepEqual([count('big'), count('mid'), count('small')], [2, 2, 2]);
    assert.equal(again.heldBack, true);
    const view = await claims.partitions('p', limits);
    assert.deepEqual(
      view.map((p) => [p.partition, p.running, p.available, p.remainingGlobal]),
      [
        ['["big"]', 2, 98, 0],
        ['["mid"]', 2, 0, 0],
        ['["small"]', 2, 1, 0],
      ],
    );
  });

  it('a partitioned claim ranks a window of a long backlog, and all of it every full pass or when the window gives nothing', async () => {
    const windowed = new LimitedClaims(db, schema.prefix, 10_000, 300);
    const tenantsOf = (r: { jobs: Array<{ args: unknown }> }) =>
      r.jobs.map((j) => (j.args as { tenant: string }).tenant);
    // More big jobs than the window ranks, older than every small one.
    await insert('win', RANKED_WINDOW + 500, () => ({ tenant: 'big' }));
    await insert('win', 1, () => ({ tenant: 'small' }));
    const roomy: QueueLimits = { globalLimit: 5_000, partition: { args: ['tenant'] } };
    // The queue's first claim ranks everything: the small job is the rank 1 of its partition.
    assert.ok(tenantsOf(await windowed.claim('win', 5, 'n1', roomy)).includes('small'));
    await insert('win', 1, () => ({ tenant: 'small' }));
    // Within the full pass's interval, the window alone: beyond it, the new small job waits for the next pass...
    assert.deepEqual(tenantsOf(await windowed.claim('win', 5, 'n1', roomy)), ['big', 'big', 'big', 'big', 'big']);
    await new Promise((resolve) => setTimeout(resolve, 350));
    // ...which comes FULL_PASS_MS (here 300 ms) after the last.
    assert.ok(tenantsOf(await windowed.claim('win', 5, 'n1', roomy)).includes('small'));
    // The big tenant at its limit: the window yields nothing, and the same claim ranks everything at once.
    await insert('win', 1, () => ({ tenant: 'small' }));
    const bigRunning = await schema.count(`queue = 'win' AND state = 'executing' AND args->>'tenant' = 'big'`);
    const tight: QueueLimits = { globalLimit: bigRunning, partition: { args: ['tenant'] } };
    assert.deepEqual(tenantsOf(await windowed.claim('win', 5, 'n1', tight)), ['small']);
    await schema.query(`DELETE FROM ${schema.jobs} WHERE queue = 'win'`);
  });

  it('partitions by worker, with a rate limit per worker', async () => {
    await schema.query(
      `INSERT INTO ${schema.jobs} (queue, worker) SELECT 'w', CASE WHEN i % 2 = 0 THEN 'A' ELSE 'B' END FROM generate_series(1, 20) AS i`,
    );
    const limits: QueueLimits = { rateLimit: { allowed: 3, period: 60 }, partition: { by: 'worker' } };
    const claimed = await claims.claim('w', 20, 'n1', limits);
    assert.deepEqual(claimed.jobs.map((j) => j.worker).sort(), ['A', 'A', 'A', 'B', 'B', 'B']);
    const view = await claims.partitions('w', limits);
    assert.deepEqual(
      view.map((p) => [p.partition, p.running, p.available, p.remainingRate]),
      [
        ['A', 3, 7, 0],
        ['B', 3, 7, 0],
      ],
    );
  });
});

/** Counts its runs in flight across every app of this process (the nodes of these tests share it). */
@Worker({ queue: 'capped' })
class CappedWorker {
  static running = 0;
  static most = 0;
  async perform() {
    CappedWorker.most = Math.max(CappedWorker.most, ++CappedWorker.running);
    await new Promise((resolve) => setTimeout(resolve, 30));
    CappedWorker.running--;
  }
}

@Module({ providers: [CappedWorker] })
class CappedModule {}

describe('limits: a running queue', () => {
  const schema = new TestSchema('limits_queue');
  const apps: INestApplicationContext[] = [];
  const base = {
    connection: DATABASE_URL,
    prefix: schema.prefix,
    heartbeatInterval: 100,
    leaderTtl: 400,
    nodeTtl: 1_000,
    reconcileInterval: 200,
  };
  const start = async (queues: ObanModuleOptions['queues']) => {
    const app = await createApp({ oban: { ...base, queues }, imports: [CappedModule] });
    apps.push(app);
    return app.get(Oban);
  };
  before(() => schema.migrate());
  after(async () => {
    for (const app of apps) await app.close();
    await schema.drop();
  });

  it('drains with a global limit, never over it, and shows its limits in checkQueue and checkLimits', async () => {
    const oban = await start({ capped: { limit: 8, globalLimit: 3 } });
    assert.deepEqual(
      // Its share may already be settled (the queue asked for one as it started): looked at after the drain.
      { ...oban.checkQueue('capped'), running: 0, globalShare: 0 },
      { queue: 'capped', limit: 8, paused: false, running: 0, claimedAhead: 0, globalLimit: 3, globalShare: 0 },
    );
    CappedWorker.most = 0;
    await oban.insertAll(Array.from({ length: 40 }, () => ({ worker: CappedWorker, args: {} })));
    await waitFor(
      'all done',
      async () => {
        // Jobs may wait claimed ahead (its share bounds what runs, not what is held), never run beyond it.
        assert.ok((oban.checkQueue('capped')?.running ?? 0) <= 3, 'never more than the global limit running');
        return (await schema.count(`state = 'completed'`)) === 40;
      },
      { timeout: 20_000, interval: 5 },
    );
    assert.equal(CappedWorker.most, 3, 'at most 3 ran at once, and the limit was reached');
    assert.equal(oban.checkQueue('capped')?.globalShare, 3, 'the one node holds the whole limit, idle too');
    const view = await oban.checkLimits('capped');
    assert.deepEqual(view, {
      queue: 'capped',
      globalLimit: 3,
      partitions: [],
    });
    assert.equal(await oban.checkLimits('nowhere'), null);
  });

  it('scaleQueue changes limits on every node, persisted for a node that starts later, and null removes one', async () => {
    const a = apps.length ? apps[0].get(Oban) : await start({ capped: { limit: 8, globalLimit: 3 } });
    await a.scaleQueue('capped', { globalLimit: 1, rateLimit: { allowed: 100, period: 10 } });
    assert.equal(a.checkQueue('capped')?.globalLimit, 1);
    const [stored] = await schema.query(`SELECT limits FROM "${schema.prefix}".oban_queues WHERE name = 'capped'`);
    assert.deepEqual(stored.limits, { globalLimit: 1, rateLimit: { allowed: 100, period: 10 } });

    const late = await start({ capped: 4 });
    assert.deepEqual(
      [late.checkQueue('capped')?.globalLimit, late.checkQueue('capped')?.rateLimit],
      [1, { allowed: 100, period: 10 }],
      'the late node applied the stored limits at boot',
    );
    CappedWorker.most = 0;
    await a.insertAll(Array.from({ length: 6 }, () => ({ worker: CappedWorker, args: {} })));
    await waitFor('done one at a time over two nodes', async () => (await schema.count(`state = 'completed'`)) === 46, {
      timeout: 20_000,
      interval: 5,
    });
    assert.equal(CappedWorker.most, 1);
    const limits = await late.checkLimits('capped');
    assert.equal(limits?.partitions.length, 1);
    assert.deepEqual(
      { ...limits!.partitions[0], remainingRate: limits!.partitions[0].remainingRate! <= 94 },
      { partition: '', running: 0, available: 0, remainingRate: true, remainingGlobal: 1 },
    );

    await late.scaleQueue('capped', { globalLimit: null, rateLimit: null, limit: 5 });
    await waitFor('the first node heard it', () => a.checkQueue('capped')?.globalLimit === undefined, {
      timeout: 3_000,
      interval: 10,
    });
    assert.deepEqual(a.checkQueue('capped'), {
      queue: 'capped',
      limit: 5,
      paused: false,
      running: 0,
      claimedAhead: 0,
    });
  });

  it('scaleQueue refuses bad limits, naming the option', async () => {
    const oban = apps[0].get(Oban);
    await assert.rejects(
      oban.scaleQueue('capped', { globalLimit: 0 }),
      /scaleQueue\('capped'\)\.globalLimit must be a whole number >= 1/,
    );
    await assert.rejects(
      oban.scaleQueue('capped', { rateLimit: { allowed: 1, period: 0 } }),
      /scaleQueue\('capped'\)\.rateLimit\.period must be a whole number of seconds/,
    );
    await assert.rejects(
      oban.scaleQueue('capped', { burst: 1 } as never),
      /scaleQueue\('capped'\): unknown option 'burst'/,
    );
    await assert.rejects(oban.scaleQueue('capped', {}), /scaleQueue\('capped'\): nothing to change/);
    await assert.rejects(
      oban.scaleQueue('capped', 0),
      /scaleQueue\('capped'\): limit must be a whole number >= 1, got 0/,
    );
  });
});

describe('limits: on embedded PGlite', () => {
  let app: INestApplicationContext | undefined;
  after(() => app?.close());

  it('a queue with a global limit alone leases its share there too', async () => {
    const pglite = await createApp({
      oban: { pglite: { dataDir: 'memory://' }, queues: { capped: { limit: 4, globalLimit: 2 } } },
      imports: [CappedModule],
    });
    try {
      const oban = pglite.get(Oban);
      CappedWorker.most = 0;
      await oban.insertAll(Array.from({ length: 8 }, () => ({ worker: CappedWorker, args: {} })));
      await waitFor('all done', async () => (await oban.listJobs({ state: 'completed' })).length === 8, {
        timeout: 10_000,
        interval: 20,
      });
      assert.equal(CappedWorker.most, 2);
      assert.equal(oban.checkQueue('capped')?.globalShare, 2);
    } finally {
      await pglite.close();
    }
  });

  it('a rate-limited, partitioned queue claims through the same transaction', async () => {
    app = await createApp({
      oban: {
        pglite: { dataDir: 'memory://' },
        queues: {
          capped: { limit: 4, globalLimit: 2, rateLimit: { allowed: 5, period: 60 }, partition: { by: 'worker' } },
        },
      },
      imports: [CappedModule],
    });
    const oban = app.get(Oban);
    CappedWorker.most = 0;
    await oban.insertAll(Array.from({ length: 8 }, () => ({ worker: CappedWorker, args: {} })));
    await waitFor(
      '5 started, the rest held back by the window',
      async () => {
        const view = await oban.checkLimits('capped');
        const part = view?.partitions.find((p) => p.partition === 'CappedWorker');
        return part !== undefined && part.running === 0 && part.available === 3 && part.remainingRate === 0;
      },
      { timeout: 10_000, interval: 20 },
    );
    assert.equal(CappedWorker.most, 2);
    assert.equal((await oban.listJobs({ state: 'completed' })).length, 5);
  });
});
