import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Pool } from 'pg';
import { killAll } from '../support/cluster';
import {
  type LivenessNode,
  overlappingRuns,
  readRuns,
  repeatedRuns,
  runsDir,
  startLivenessNode,
} from '../support/liveness-nodes';
import { ThrowawayPostgres } from '../support/throwaway-postgres';
import { sleep, waitFor } from '../support/wait';

const JOBS = 40;
const NODE_TTL = 1_500;

describe('liveness: a PostgreSQL restart longer than nodeTtl with two nodes mid-drain', () => {
  let server: ThrowawayPostgres;
  let db: Pool;
  const runs = runsDir();
  const nodes: LivenessNode[] = [];
  const prefix = 'liveness';
  const jobs = `"${prefix}".oban_jobs`;
  const count = async (where: string) =>
    Number((await db.query(`SELECT count(*)::int AS n FROM ${jobs} WHERE ${where}`)).rows[0].n);

  before(async () => {
    server = await ThrowawayPostgres.create();
    db = new Pool({ connectionString: server.url, max: 2 });
    db.on('error', () => undefined); // the server goes away on purpose
  });
  after(async () => {
    await killAll(nodes);
    await db?.end().catch(() => undefined);
    await server?.destroy();
    runs.remove();
  });

  for (const mode of ['fast', 'immediate'] as const) {
    it(`server stopped (${mode}) for longer than nodeTtl: every job completes once, no two runs overlap, both nodes keep running`, async () => {
      await killAll(nodes);
      nodes.length = 0;
      const settings = {
        prefix,
        databaseUrl: server.url,
        runsDir: runs.dir,
        oban: { queues: { naps: 4 }, heartbeatInterval: 200, leaderTtl: 1_000, nodeTtl: NODE_TTL },
      };
      const group = [startLivenessNode(settings), startLivenessNode(settings)];
      nodes.push(...group);
      await Promise.all(group.map((n) => n.ready));
      await db.query(`DELETE FROM ${jobs}`);
      const before = new Set(readRuns(runs.dir).map((r) => r.job));
      // 1 to 2 s each: jobs are running when the server goes, and when it is back.
      await db.query(
        `INSERT INTO ${jobs} (worker, queue, args, max_attempts)
         SELECT 'NapWorker', 'naps', jsonb_build_object('ms', 1000 + (i * 397) % 1000), 5
         FROM generate_series(1, ${JOBS}) AS i`,
      );
      await db.query(`SELECT pg_notify($1, 'naps')`, [`${prefix}.oban_insert`]);
      await waitFor('some jobs done, some running', async () => (await count(`state = 'completed'`)) >= 6, {
        timeout: 30_000,
        interval: 50,
      });

      await server.stop(mode);
      await sleep(NODE_TTL + 1_500);
      await server.start();
      const backAt = Date.now();

      await waitFor('every job completed', async () => (await count(`state = 'completed'`).catch(() => 0)) === JOBS, {
        timeout: 90_000,
        interval: 200,
      });
      const mine = readRuns(runs.dir).filter((r) => !before.has(r.job));
      assert.deepEqual(overlappingRuns(mine), [], 'no two runs of one job overlap in time');
      assert.deepEqual(repeatedRuns(mine), [], 'no node died: no job ran twice');
      assert.equal(new Set(mine.map((r) => r.job)).size, JOBS, 'every job ran');
      for (const node of group) {
        assert.ok(node.running, `node ${node.node} is still running`);
        assert.ok(
          mine.some((r) => r.pid === node.pid && r.start > backAt),
          `node ${node.node} ran jobs after the server was back`,
        );
      }
      await Promise.all(group.map((n) => n.stop()));
    });
  }
});
