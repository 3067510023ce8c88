import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import * as path from 'node:path';
import { TestNode, killAll } from './support/cluster';
import { uniqueInsertWaiting } from './support/backends';
import { DATABASE_URL, TestSchema } from './support/db';
import { waitFor } from './support/wait';

interface Brief {
  id: number;
  conflict: boolean | undefined;
  state: string;
}

/** Inserting nodes, each its own OS process (test/fixtures/unique/inserter.ts). */
describe('unique jobs from several processes at once', () => {
  const schema = new TestSchema('unique_nodes');
  const nodes: TestNode[] = [];
  let nextId = 0;
  const answers = new Map<number, (message: any) => void>();

  const start = () => {
    const child = fork(path.join(__dirname, 'fixtures/unique/inserter.ts'), [], {
      execArgv: ['-r', 'ts-node/register'],
      env: {
        ...process.env,
        TS_NODE_TRANSPILE_ONLY: 'true',
        OBAN_TEST_UNIQUE: JSON.stringify({ prefix: schema.prefix, databaseUrl: DATABASE_URL }),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced', // options such as period: Infinity cross as they are
    });
    child.on('message', (message: any) => {
      if (message.id !== undefined && message.type !== 'held') answers.get(message.id)?.(message);
    });
    const node = new TestNode(child);
    nodes.push(node);
    return node;
  };
  /** Sends a command; resolves with the node's final answer to it. */
  const ask = (node: TestNode, command: object): { id: number; answer: Promise<any> } => {
    const id = ++nextId;
    const answer = new Promise<any>((resolve, reject) => {
      answers.set(id, (message) => (message.type === 'error' ? reject(new Error(message.error)) : resolve(message)));
    });
    node.child.send({ ...command, id });
    return { id, answer };
  };

  before(async () => {
    await schema.migrate();
    for (let i = 0; i < 3; i++) start();
    await Promise.all(nodes.map((n) => n.ready));
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
    await killAll(nodes);
    await schema.drop();
  });

  const stored = async (label: string) =>
    schema.query<{ id: string; key: string }>(
      `SELECT id, args->>'key' AS key FROM ${schema.jobs} WHERE args->>'label' = $1 ORDER BY id`,
      [label],
    );

  it('3 processes inserting the same 10 jobs 30 times each, all at once, store each job once, and all get that job back', async () => {
    const entries = Array.from({ length: 30 }, (_, i) => ({ args: { label: 'race', key: `k${i % 10}` } }));
    const replies = await Promise.all(nodes.map((n) => ask(n, { cmd: 'insert', entries }).answer));
    const rows = await stored('race');
    assert.equal(rows.length, 10, 'one job per key');
    const idOf = new Map(rows.map((r) => [r.key, Number(r.id)]));
    let fresh = 0;
    for (const reply of replies) {
      (reply.jobs as Brief[]).forEach((job, i) => {
        assert.equal(job.id, idOf.get(`k${i % 10}`), `entry ${i} got the stored job of its key`);
        assert.equal(typeof job.conflict, 'boolean');
        if (!job.conflict) fresh++;
      });
    }
    assert.equal(fresh, 10, 'exactly one insert per key stored it; every other one conflicted');
  });

  it('concurrent insertAll batches with duplicates inside and across them store each job once', async () => {
    const entries = Array.from({ length: 60 }, (_, i) => ({ args: { label: 'bulk', key: `b${(i * 7) % 15}` } }));
    const replies = await Promise.all(nodes.map((n) => ask(n, { cmd: 'insertAll', entries }).answer));
    const rows = await stored('bulk');
    assert.equal(rows.length, 15);
    const idOf = new Map(rows.map((r) => [r.key, Number(r.id)]));
    const fresh = replies.flatMap((r) => (r.jobs as Brief[]).filter((j) => j.conflict === false)).length;
    assert.equal(fresh, 15);
    for (const reply of replies) {
      (reply.jobs as Brief[]).forEach((job, i) => assert.equal(job.id, idOf.get(`b${(i * 7) % 15}`)));
    }
  });

  it('with replace, concurrent duplicates from every process update the one stored job', async () => {
    const unique = { keys: ['label', 'key'], period: Infinity, states: 'incomplete', replace: { available: ['args'] } };
    const sent = (p: number) =>
      Array.from({ length: 20 }, (_, i) => ({ args: { label: 'rep', key: 'r', n: p * 100 + i }, unique }));
    const replies = await Promise.all(nodes.map((n, p) => ask(n, { cmd: 'insert', entries: sent(p) }).answer));
    const rows = await schema.query<{ id: string; n: number }>(
      `SELECT id, (args->>'n')::int AS n FROM ${schema.jobs} WHERE args->>'label' = 'rep'`,
    );
    assert.equal(rows.length, 1);
    const jobs = replies.flatMap((r) => r.jobs as Brief[]);
    assert.ok(jobs.every((j) => j.id === Number(rows[0].id)));
    assert.equal(jobs.filter((j) => j.conflict === false).length, 1);
    assert.ok(
      nodes.some((_, p) => sent(p).some((e) => e.args.n === rows[0].n)),
      'it holds the args of one of the inserts',
    );
  });

  it("an insert waiting on another process's uncommitted duplicate gets its own job if that rolls back, the other's if it commits", async () => {
    for (const commit of [false, true]) {
      const args = { label: `held-${commit}`, key: 'h' };
      const [holder, inserter] = nodes;
      let held: Brief | undefined;
      const onHeld = (message: any) => message.type === 'held' && (held = message.job);
      holder.child.on('message', onHeld);
      const hold = ask(holder, { cmd: 'hold', args });
      await waitFor('the held insert', () => held);
      holder.child.off('message', onHeld);

      let answered = false;
      const waiting = ask(inserter, { cmd: 'insert', entries: [{ args }] }).answer.finally(() => (answered = true));
      await uniqueInsertWaiting(schema);
      assert.equal(answered, false, 'it waits for the holder to end');
      holder.child.send({ cmd: 'end', id: hold.id, commit });
      await hold.answer;
      const [job] = (await waiting).jobs as Brief[];
      const rows = await stored(args.label);
      assert.equal(rows.length, 1);
      assert.equal(job.id, Number(rows[0].id), 'the job it got is the one stored');
      if (commit) assert.deepEqual([job.conflict, job.id], [true, held!.id]);
      else assert.deepEqual([job.conflict, job.id === held!.id], [false, false]);
    }
  });
});
