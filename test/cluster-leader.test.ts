import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CRON_CATCH_UP_MS } from '../lib/plugins/cron';
import { type TestNode, assertNoOverlap, killAll, leadersAt, startNode } from './support/cluster';
import { DATABASE_URL, TestSchema } from './support/db';
import { sleep, waitFor } from './support/wait';

describe('leader election across node processes', () => {
  const schema = new TestSchema('cluster_leader');
  const nodes: TestNode[] = [];
  after(async () => {
    await killAll(nodes);
    await schema.drop();
  });

  const leaseHolder = async () => {
    const [row] = await schema.query(
      `SELECT node FROM "${schema.prefix}".oban_peers WHERE name = 'oban' AND expires_at > now()`,
    );
    return row?.node as string | undefined;
  };

  it('elects one leader, and a graceful stop hands over at once (by notification)', async () => {
    // Heartbeats a minute apart: within the first seconds only the resign
    // notification can make another node bid, so a quick takeover proves it.
    const settings = {
      prefix: schema.prefix,
      databaseUrl: DATABASE_URL,
      oban: { queues: {}, heartbeatInterval: 60_000, leaderTtl: 120_000, nodeTtl: 120_000 },
    };
    const group = [startNode(settings), startNode(settings), startNode(settings)];
    nodes.push(...group);
    await Promise.all(group.map((n) => n.ready));

    // The lease holder, and the only node that considers itself leader.
    const leader = await waitFor('one leader', async () => {
      const holder = await leaseHolder();
      const leaders = leadersAt(group);
      return leaders.length === 1 && leaders[0].node === holder ? leaders[0] : null;
    });
    await sleep(500);
    assert.deepEqual(
      leadersAt(group).map((n) => n.node),
      [leader.node],
      'still exactly one leader',
    );

    const stoppedAt = Date.now();
    await leader.stop();
    const rest = group.filter((n) => n !== leader);
    const next = await waitFor('a new leader after a graceful stop', () => leadersAt(rest)[0], { timeout: 10_000 });
    assert.notEqual(next.node, leader.node);
    assert.ok(next.tenures[0].since - stoppedAt < 15_000, 'took over long before the next regular heartbeat');
    assert.equal(await leaseHolder(), next.node);
    assertNoOverlap(group.flatMap((n) => n.tenures));
    await Promise.all(rest.map((n) => n.stop()));
    assert.equal(await leaseHolder(), undefined, 'the last node gave the lease up');
  });

  it('after kill -9 of the leader another leads within seconds, never two at once, cron slots once each', async () => {
    await schema.query(`DELETE FROM "${schema.prefix}".oban_jobs`);
    const now = Date.now();
    // A shared fast clock (1 cron minute = 2 s) so a few cron slots pass during the test.
    const settings = {
      prefix: schema.prefix,
      databaseUrl: DATABASE_URL,
      oban: { queues: {}, heartbeatInterval: 200, leaderTtl: 1_000, nodeTtl: 2_000 },
      crontab: [{ cron: '* * * * *', name: 'every-minute' }],
      clock: { epoch: now, realStart: now, rate: 30 },
    };
    const group = [startNode(settings), startNode(settings), startNode(settings)];
    nodes.push(...group);
    await Promise.all(group.map((n) => n.ready));
    const first = await waitFor('a leader', () => (leadersAt(group).length === 1 ? leadersAt(group)[0] : null));
    await sleep(3_000);
    assert.equal(leadersAt(group).length, 1, 'still exactly one leader');

    await first.kill();
    const killedAt = first.killedAt!;
    const rest = group.filter((n) => n !== first);
    const next = await waitFor(
      'a new leader after kill -9',
      () => rest.find((n) => n.tenures.some((t) => t.since > killedAt)),
      { timeout: 20_000 },
    );
    await sleep(4_000);
    assertNoOverlap(group.flatMap((n) => n.tenures));
    assert.equal(leadersAt(rest).length, 1);
    await Promise.all(rest.map((n) => n.stop()));
    assertNoOverlap(group.flatMap((n) => n.tenures));

    // Each cron minute was inserted once, with none missing around the failover.
    const slots = (
      await schema.query<{ slot: string; n: number }>(
        `SELECT meta->>'cron_slot' AS slot, count(*)::int AS n FROM ${schema.jobs}
         WHERE meta->>'cron' = 'every-minute' GROUP BY 1 ORDER BY 1`,
      )
    ).map((r) => ({ at: Date.parse(r.slot), n: r.n }));
    assert.ok(slots.length >= 4, `several slots passed (got ${slots.length})`);
    assert.ok(
      slots.every((s) => s.n === 1),
      `each slot inserted once: ${JSON.stringify(slots)}`,
    );
    for (let i = 1; i < slots.length; i++) {
      assert.equal(
        slots[i].at - slots[i - 1].at,
        60_000,
        `no slot missed around the failover (catch-up ${CRON_CATCH_UP_MS} ms)`,
      );
    }
    assert.ok(next.tenures.length > 0);
  });
});
