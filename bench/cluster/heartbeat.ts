import 'reflect-metadata';
import { type INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Oban, ObanModule } from '../../lib';
import type { Database } from '../../lib/db/database';
import { OBAN_DATABASE } from '../../lib/oban.tokens';
import { sleep } from '../common/wait';
import { BenchSchema } from './schema';

export interface HeartbeatCost {
  seconds: number;
  /** Per node: statements sent, by name. */
  statements: Array<Map<string, number>>;
  roles: Array<'leader' | 'follower'>;
}

/**
 * 3 idle nodes in this process, one queue each: the statements each sends
 * over `seconds`, counted by name at its Database, after 2 s of settling.
 */
export async function heartbeatCost(url: string, seconds: number): Promise<HeartbeatCost> {
  const schema = await BenchSchema.create(url, 'bench_heartbeat');
  const apps: INestApplicationContext[] = [];
  const statements: Array<Map<string, number>> = [];
  try {
    for (let i = 0; i < 3; i++) {
      const app = await idleNode(url, schema.prefix);
      apps.push(app);
      statements.push(countStatements(app.get<Database>(OBAN_DATABASE), schema.prefix));
    }
    await sleep(2_000);
    for (const counts of statements) counts.clear();
    const start = Date.now();
    await sleep(seconds * 1000);
    const elapsed = (Date.now() - start) / 1000;
    const snapshot = statements.map((counts) => new Map(counts));
    const roles = apps.map((app) => (app.get(Oban).isLeader() ? ('leader' as const) : ('follower' as const)));
    return { seconds: elapsed, statements: snapshot, roles };
  } finally {
    for (const app of apps) await app.close();
    await schema.drop();
  }
}

function idleNode(url: string, prefix: string): Promise<INestApplicationContext> {
  @Module({ imports: [ObanModule.forRoot({ connection: url, prefix, queues: { default: 10 } })] })
  class IdleNode {}
  return NestFactory.createApplicationContext(IdleNode, { logger: ['error', 'warn'] });
}

/** Wraps `database.query` to count each statement by its name (the schema's suffix taken off). */
function countStatements(database: Database, prefix: string): Map<string, number> {
  const counts = new Map<string, number>();
  const query = database.query.bind(database);
  (database as { query: Database['query'] }).query = (statement, values) => {
    const name = typeof statement === 'string' ? 'other' : statement.name.replace(`_${prefix}`, '');
    counts.set(name, (counts.get(name) ?? 0) + 1);
    return query(statement, values);
  };
  return counts;
}
