/**
 * Cluster measurements with the default settings (heartbeat 1 s, nodeTtl 10 s,
 * leaderTtl 5 s):
 *
 *   node -r ts-node/register bench/cluster.ts [--rounds 3]
 *
 * 1. Failover: 3 node processes run long jobs; one is killed with SIGKILL.
 *    Times from the kill to a new leader (its first tenure, by the machine
 *    clock) and to the rescue of the dead node's jobs (no row of it left
 *    `executing`), once killing the leader and once a follower, per round.
 * 2. Heartbeat cost: 3 idle in-process nodes for 10 s; statements each sends,
 *    counted by name at the Database wrapper, per node per second.
 *
 * Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test).
 */
process.env.TS_NODE_TRANSPILE_ONLY ??= 'true';
import 'reflect-metadata';
import { type INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Oban, ObanModule } from '../lib';
import type { Database } from '../lib/db/database';
import { migrate } from '../lib/db/migrate';
import { PgDatabase } from '../lib/db/pg-database';
import { OBAN_DATABASE } from '../lib/oban.tokens';
import { type TestNode, killAll, leadersAt, startNode } from '../test/support/cluster';
import { DATABASE_URL, TestSchema } from '../test/support/db';
import { sleep, waitFor } from '../test/support/wait';

const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 3;

async function migrated(label: string): Promise<TestSchema> {
  const schema = new TestSchema(label);
  const db = PgDatabase.fromUrl(DATABASE_URL, 2);
  await migrate(db, schema.prefix);
  await db.close();
  return schema;
}

/** Kills the leader or a follower of 3 busy nodes; ms from the kill to a new leader and to the rescue. */
async function failover(victimIsLeader: boolean): Promise<{ leader: number; rescue: number }> {
  const schema = await migrated('bench_failover');
  const nodes: TestNode[] = [];
  try {
    await schema.query(`CREATE TABLE "${schema.prefix}".aborts (job_id bigint, node text, reason text)`);
    const settings = { prefix: schema.prefix, databaseUrl: DATABASE_URL, oban: { queues: { slow: 4 } } };
    nodes.push(startNode(settings), startNode(settings), startNode(settings));
    await Promise.all(nodes.map((n) => n.ready));
    await schema.query(
      `INSERT INTO ${schema.jobs} (worker, queue, args)
       SELECT 'SlowWorker', 'slow', '{"ms": 120000}' FROM generate_series(1, 12)`,
    );
    await schema.query(`SELECT pg_notify($1, 'slow')`, [`${schema.prefix}.oban_insert`]);
    await waitFor(
      'every node running jobs, one leader',
      async () => {
        const rows = await schema.query(
          `SELECT DISTINCT attempted_by[1] AS node FROM ${schema.jobs} WHERE state = 'executing'`,
        );
        return rows.length === 3 && leadersAt(nodes).length === 1;
      },
      { timeout: 30_000 },
    );
    const leader = leadersAt(nodes)[0];
    const victim = victimIsLeader ? leader : nodes.find((n) => n !== leader)!;
    await victim.kill();
    const killedAt = victim.killedAt!;
    await waitFor(
      'rescue',
      async () => (await schema.count(`state = 'executing' AND attempted_by[1] = $1`, [victim.node])) === 0,
      { timeout: 60_000, interval: 10 },
    );
    const rescue = Date.now() - killedAt;
    const next = nodes
      .filter((n) => n !== victim)
      .flatMap((n) => n.tenures)
      .find((t) => t.since > killedAt);
    return { leader: victimIsLeader && next ? next.since - killedAt : NaN, rescue };
  } finally {
    await killAll(nodes);
    await schema.drop();
  }
}

/** Statements per name each of 3 idle nodes sends over `seconds`. */
async function heartbeatCost(seconds: number) {
  const schema = await migrated('bench_heartbeat');
  const counts: Array<Map<string, number>> = [];
  const apps: INestApplicationContext[] = [];
  for (let i = 0; i < 3; i++) {
    @Module({
      imports: [ObanModule.forRoot({ connection: DATABASE_URL, prefix: schema.prefix, queues: { default: 10 } })],
    })
    class IdleNode {}
    const app = await NestFactory.createApplicationContext(IdleNode, { logger: ['error', 'warn'] });
    const database = app.get<Database>(OBAN_DATABASE);
    const perName = new Map<string, number>();
    const query = database.query.bind(database);
    (database as { query: Database['query'] }).query = (statement, values) => {
      const name = typeof statement === 'string' ? 'other' : statement.name.replace(`_${schema.prefix}`, '');
      perName.set(name, (perName.get(name) ?? 0) + 1);
      return query(statement, values);
    };
    counts.push(perName);
    apps.push(app);
  }
  await sleep(2_000);
  for (const c of counts) c.clear();
  const start = Date.now();
  await sleep(seconds * 1000);
  const elapsed = (Date.now() - start) / 1000;
  const snapshot = counts.map((c) => new Map(c));
  const roles = apps.map((a) => (a.get(Oban).isLeader() ? 'leader' : 'follower'));
  for (const app of apps) await app.close();
  await schema.drop();
  return { elapsed, snapshot, roles };
}

function table(rows: string[][]) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join('  '));
}

function stats(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  return [fmt(sorted[0]), fmt(sorted[Math.floor(sorted.length / 2)]), fmt(sorted[sorted.length - 1])];
}

async function main() {
  console.log(`nest-oban cluster bench: ${rounds} round(s), default settings\n`);
  const leaderKills: Array<{ leader: number; rescue: number }> = [];
  const followerKills: Array<{ rescue: number }> = [];
  for (let i = 0; i < rounds; i++) {
    leaderKills.push(await failover(true));
    followerKills.push(await failover(false));
    process.stdout.write('.');
  }
  console.log('\n');
  table([
    ['kill -9 of', 'time to', 'min', 'median', 'max'],
    ['the leader', 'new leader', ...stats(leaderKills.map((r) => r.leader))],
    ['the leader', 'its jobs rescued', ...stats(leaderKills.map((r) => r.rescue))],
    ['a follower', 'its jobs rescued', ...stats(followerKills.map((r) => r.rescue))],
  ]);

  const { elapsed, snapshot, roles } = await heartbeatCost(10);
  console.log(`\nstatements per second, 3 idle nodes running one queue (${elapsed.toFixed(1)} s):\n`);
  const names = [...new Set(snapshot.flatMap((m) => [...m.keys()]))].sort();
  table([
    ['statement', ...roles],
    ...names.map((name) => [name, ...snapshot.map((m) => ((m.get(name) ?? 0) / elapsed).toFixed(2))]),
    ['total', ...snapshot.map((m) => ([...m.values()].reduce((a, b) => a + b, 0) / elapsed).toFixed(2))],
  ]);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
