import { waitFor } from '../common/wait';
import { NodeProcess } from './nodes';
import { BenchSchema } from './schema';

const NODES = 3;
/** Long jobs filling every node's 'slow' queue (limit 4), so that each node has jobs to be rescued. */
const JOBS = NODES * 4;

export interface Failover {
  /** ms from the kill to a surviving node's election; NaN when a follower was killed. */
  leader: number;
  /** ms from the kill until no job of the dead node is left `executing`. */
  rescue: number;
}

/** kill -9 of the leader, or of a follower, of 3 busy node processes. */
export async function failover(url: string, victimIsLeader: boolean): Promise<Failover> {
  const schema = await BenchSchema.create(url, 'bench_failover');
  const nodes = Array.from(
    { length: NODES },
    (_, i) => new NodeProcess({ databaseUrl: url, prefix: schema.prefix, node: `${schema.prefix}_node${i + 1}` }),
  );
  try {
    await Promise.all(nodes.map((n) => n.ready));
    await schema.query(
      `INSERT INTO ${schema.jobs} (worker, queue, args)
       SELECT 'SlowWorker', 'slow', '{"ms": 120000}' FROM generate_series(1, ${JOBS})`,
    );
    await waitFor(
      'every node running jobs, one leader',
      async () => {
        const rows = await schema.query(
          `SELECT DISTINCT attempted_by[1] AS node FROM ${schema.jobs} WHERE state = 'executing'`,
        );
        return rows.length === NODES && nodes.filter((n) => n.leader).length === 1;
      },
      { timeout: 30_000 },
    );
    const leader = nodes.find((n) => n.leader)!;
    const victim = victimIsLeader ? leader : nodes.find((n) => n !== leader)!;
    const killedAt = await victim.kill();
    await waitFor(
      'the rescue',
      async () => (await schema.count(`state = 'executing' AND attempted_by[1] = $1`, [victim.name])) === 0,
      { timeout: 60_000, interval: 10 },
    );
    const rescue = Date.now() - killedAt;
    if (!victimIsLeader) return { leader: NaN, rescue };
    const elections = () => nodes.flatMap((n) => (n === victim ? [] : n.elections.filter((at) => at > killedAt)));
    await waitFor('a new leader', () => elections().length > 0, { timeout: 30_000 });
    return { leader: Math.min(...elections()) - killedAt, rescue };
  } finally {
    await Promise.all(nodes.map((n) => n.kill()));
    await schema.drop();
  }
}
