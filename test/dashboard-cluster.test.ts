import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Oban } from '../lib';
import { type TestNode, killAll, startNode } from './support/cluster';
import { DATABASE_URL, TestSchema } from './support/db';
import { DashboardPidWorker, DashboardPoolAppModule, dashboardPoolOptions } from './support/dashboard-pool-app';
import { waitFor } from './support/wait';

// The dashboard's Nodes and Queues over a cluster: a second node in its own OS process, worker processes here.

const TIMINGS = { heartbeatInterval: 200, nodeTtl: 2_000, leaderTtl: 1_000, stageInterval: 100 };

describe('dashboard: nodes, the leader and worker processes', () => {
  const schema = new TestSchema('dash_cluster');
  let app: INestApplication;
  let oban: Oban;
  let base: string;
  const nodes: TestNode[] = [];
  const snapshot = async () => (await (await fetch(`${base}/api/snapshot`)).json()) as any;

  before(async () => {
    dashboardPoolOptions.current = {
      connection: DATABASE_URL,
      prefix: schema.prefix,
      migrate: true,
      processes: 1,
      queues: { pids: 1 },
      ...TIMINGS,
    };
    app = await NestFactory.create(DashboardPoolAppModule, { logger: ['error'], abortOnError: false });
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}/oban`;
    oban = app.get(Oban);
    const other = startNode({
      prefix: schema.prefix,
      databaseUrl: DATABASE_URL,
      oban: { queues: { default: 3, cpu: 1 }, processes: 1, ...TIMINGS },
      cpu: true,
    });
    nodes.push(other);
    await other.ready;
  });
  after(async () => {
    for (const n of nodes) await n.stop().catch(() => undefined);
    await killAll(nodes);
    await app?.close();
    await schema.drop();
  });

  it('lists both live nodes, the one leader, and which node runs each queue', async () => {
    const s = await waitFor('both nodes and a leader', async () => {
      const s = await snapshot();
      return s.nodes.length === 2 && s.leader !== null && s;
    });
    const self = s.nodes.find((n: any) => n.self);
    const other = s.nodes.find((n: any) => !n.self);
    assert.equal(self.node, s.node);
    assert.equal(other.node, nodes[0].node);
    assert.equal(s.nodes.filter((n: any) => n.leader).length, 1);
    assert.equal(s.nodes.find((n: any) => n.leader).node, s.leader);
    assert.deepEqual([...other.queues].sort(), ['cpu', 'default']);
    assert.deepEqual(s.queues.find((q: any) => q.name === 'default').nodes, [other.node]);
    assert.deepEqual(s.queues.find((q: any) => q.name === 'pids').nodes, [self.node]);
    // The other node's queue is known cluster-wide: it can be paused from here, and that node follows.
    const paused = await fetch(`${base}/api/queues/default/pause`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(paused.status, 200);
    await waitFor(
      'the pause stored',
      async () => (await snapshot()).queues.find((q: any) => q.name === 'default').paused,
    );
  });

  it("shows this node's worker processes: pid, jobs held, memory", async () => {
    const job = await oban.insert(DashboardPidWorker, {});
    const done = await waitFor('the job done', async () => {
      const j = await oban.getJob(job.id);
      return j?.state === 'completed' && j;
    });
    const { pid } = done.result as { pid: number };
    assert.notEqual(pid, process.pid);
    const processes = await waitFor('the process in the figures', async () => {
      const self = (await snapshot()).nodes.find((n: any) => n.self);
      return self.processes.length === 1 && self.processes[0].ready && self.processes;
    });
    assert.equal(processes[0].pid, pid);
    assert.equal(processes[0].running, 0);
    assert.ok(processes[0].rss > 1_000_000, `resident memory ${processes[0].rss} bytes`);
  });

  it("shows another node's worker processes, as that node reports them each heartbeat", async () => {
    const reported = await waitFor("the other node's process reported", async () => {
      const other = (await snapshot()).nodes.find((n: any) => !n.self);
      return other?.processes?.length === 1 && other.processes[0].ready && other.processes;
    });
    const [p] = reported;
    assert.equal(typeof p.pid, 'number');
    assert.notEqual(p.pid, nodes[0].pid, 'a worker process of that node, not the node itself');
    assert.notEqual(p.pid, process.pid);
    process.kill(p.pid, 0); // a live process on this machine
    assert.equal(p.running, 0);
    assert.ok(p.rss > 1_000_000, `resident memory ${p.rss} bytes`);
    // The page lists it under that node.
    const nodesView = await snapshot();
    assert.ok(
      nodesView.nodes.every((n: any) => Array.isArray(n.processes)),
      'every node reports its processes',
    );
  });

  it('drops a node that stopped from the live nodes', async () => {
    await nodes[0].stop();
    await waitFor('one node left', async () => (await snapshot()).nodes.length === 1, { timeout: 15_000 });
  });
});
