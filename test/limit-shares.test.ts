import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PgDatabase } from '../lib/db/pg-database';
import { decideShare, fairSplit } from '../lib/queue/global-share';
import { LimitedClaims } from '../lib/store/limited-claim';
import { LimitShares, type ShareRow } from '../lib/store/limit-shares';
import { DATABASE_URL, TestSchema } from './support/db';

/** Shares of a global limit leased to nodes (lib/queue/global-share.ts, lib/store/limit-shares.ts). */

const row = (node: string, share: number, wants: number): ShareRow => ({ node, share, wants });

describe('limit shares: the split', () => {
  it('is max-min fair over what nodes want, the same on every node', () => {
    const split = (limit: number, rows: ShareRow[]) => Object.fromEntries(fairSplit(limit, rows));
    assert.deepEqual(split(20, [row('a', 0, 10), row('b', 0, 10)]), { a: 10, b: 10 });
    assert.deepEqual(split(10, [row('a', 0, 2), row('b', 0, 10), row('c', 0, 10)]), { a: 2, b: 4, c: 4 });
    assert.deepEqual(split(5, [row('a', 0, 10), row('b', 0, 0)]), { a: 5, b: 0 });
    // The odd one goes to the node already holding more, so a split of 1 does not move between busy nodes.
    assert.deepEqual(split(1, [row('a', 1, 1), row('b', 0, 1)]), { a: 1, b: 0 });
    assert.deepEqual(split(1, [row('b', 0, 1), row('a', 1, 1)]), { a: 1, b: 0 });
  });

  it('grows only into what no one holds, shrinks no lower than its running jobs, and wakes the starved', () => {
    const needs = { globalLimit: 4, wants: 4, running: 0 };
    // b holds all 4: a's even part is 2, yet nothing is free for it.
    const view = { rows: [row('b', 4, 4)], unleased: 0 };
    assert.deepEqual(decideShare(view, 'a', needs), { share: 0, wants: 4, wake: false, runs: 0 });
    // b, seeing a starved, shrinks to its part: it starts no more beyond it, and keeps the share its 3 running
    // jobs need until they finish. Told, a can grow.
    const starved = { rows: [row('a', 0, 4), row('b', 4, 4)], unleased: 0 };
    assert.deepEqual(decideShare(starved, 'b', { ...needs, running: 4 }), { share: 4, wants: 4, wake: false, runs: 2 });
    assert.deepEqual(decideShare(starved, 'b', { ...needs, running: 3 }), { share: 3, wants: 4, wake: true, runs: 2 });
    assert.deepEqual(decideShare(starved, 'b', { ...needs, running: 1 }), { share: 2, wants: 4, wake: true, runs: 2 });
    assert.deepEqual(decideShare({ rows: [row('a', 0, 4), row('b', 2, 4)], unleased: 0 }, 'a', needs), {
      share: 2,
      wants: 4,
      wake: false,
      runs: 2,
    });
    // Executing jobs of nodes without a share (claiming under the lock) are taken too.
    assert.equal(decideShare({ rows: [], unleased: 3 }, 'a', needs).share, 1);
  });

  it('an idle node keeps its share until someone wants more, or the limit is lowered', () => {
    const idle = { globalLimit: 4, wants: 0, running: 0 };
    assert.equal(decideShare({ rows: [row('a', 4, 4), row('b', 0, 0)], unleased: 0 }, 'a', idle).share, 4);
    assert.equal(decideShare({ rows: [row('a', 4, 4), row('b', 0, 2)], unleased: 0 }, 'a', idle).share, 0);
    assert.equal(decideShare({ rows: [row('a', 4, 4)], unleased: 0 }, 'a', { ...idle, globalLimit: 2 }).share, 0);
  });
});

describe('limit shares: against Postgres', () => {
  const schema = new TestSchema('limit_shares');
  let db: PgDatabase;
  let shares: LimitShares;
  before(async () => {
    await schema.migrate();
    db = PgDatabase.fromUrl(DATABASE_URL, 12);
    shares = new LimitShares(db, schema.prefix, 10_000, `${schema.prefix}.oban_insert`);
  });
  after(async () => {
    await db.close();
    await schema.drop();
  });

  const stored = async (queue: string) =>
    Object.fromEntries(
      (
        await schema.query(`SELECT node, share FROM "${schema.prefix}".oban_limit_shares WHERE queue = $1`, [queue])
      ).map((r) => [r.node, r.share]),
    );

  it('concurrent settles of many nodes never lease more than the limit in sum', async () => {
    for (let round = 0; round < 5; round++) {
      const queue = `race${round}`;
      const decisions = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          shares.settle(queue, `node-${i}`, (view) =>
            decideShare(view, `node-${i}`, { globalLimit: 7, wants: 5, running: 0 }),
          ),
        ),
      );
      assert.equal(
        decisions.reduce((n, d) => n + d.share, 0),
        7,
        `round ${round}`,
      );
      const rows = await stored(queue);
      assert.equal(
        Object.values(rows).reduce((n: number, s) => n + Number(s), 0),
        7,
      );
    }
  });

  it('a claim under the lock counts the shares, and the leasing nodes’ executing jobs not twice', async () => {
    const claims = new LimitedClaims(db, schema.prefix, 10_000);
    await schema.query(
      `INSERT INTO ${schema.jobs} (queue, worker, args) SELECT 'mixed', 'W', '{}' FROM generate_series(1, 10)`,
    );
    // Node 'leaser' holds 3 of the limit of 5 and runs 2 of them.
    await shares.settle('mixed', 'leaser', () => ({ share: 3, wants: 3, wake: false, runs: 3 }));
    await schema.query(
      `UPDATE ${schema.jobs} SET state = 'executing', attempted_by = ARRAY['leaser'], attempt = 1
       WHERE id IN (SELECT id FROM ${schema.jobs} WHERE queue = 'mixed' ORDER BY id LIMIT 2)`,
    );
    const first = await claims.claim('mixed', 10, 'n1', { globalLimit: 5 });
    assert.equal(first.jobs.length, 2, 'the limit less the share');
    // Its share given back, the leaser's running jobs count as rows: 5 - 2 (its) - 2 (n1's).
    await shares.leave('mixed', 'leaser');
    assert.deepEqual(await stored('mixed'), {});
    const second = await claims.claim('mixed', 10, 'n1', { globalLimit: 5 }, []);
    assert.equal(second.jobs.length, 1);
    // Leasing again, the leaser gets what n1's 3 rows leave, its own 2 running jobs within it.
    const decision = await shares.settle('mixed', 'leaser', (view) => {
      assert.equal(view.unleased, 3);
      return decideShare(view, 'leaser', { globalLimit: 5, wants: 5, running: 2 });
    });
    assert.equal(decision.share, 2);
    const third = await claims.claim('mixed', 10, 'n1', { globalLimit: 5 });
    assert.equal(third.jobs.length, 0, '3 of n1 and a share of 2');
  });
});
