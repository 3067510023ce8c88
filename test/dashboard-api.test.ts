import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ObanConfigError } from '../lib';
import { ObanDashboardModule } from '../lib/dashboard';
import { DashboardService } from '../lib/dashboard/dashboard.service';
import {
  type DashboardApp,
  FlakyReportWorker,
  LongExportWorker,
  TokenGuard,
  WelcomeMailWorker,
  bootDashboardApp,
  roleAccess,
} from './support/dashboard-app';
import { fromThisMachine } from '../sample/app.module';
import { TestSchema } from './support/db';
import { waitFor } from './support/wait';

// The dashboard's HTTP API, on both adapters: every filter, every action, the access rules.

for (const adapter of ['express', 'fastify'] as const) {
  describe(`dashboard API on ${adapter}: filters and pages`, () => {
    const schema = new TestSchema(`dash_f_${adapter}`);
    let d: DashboardApp;
    before(async () => {
      d = await bootDashboardApp({ prefix: schema.prefix, adapter, dashboard: { searchWindow: 100 } });
      // 300 jobs in queues no node runs (they stay as written): states, workers, tags and args set per row.
      await schema.query(
        `INSERT INTO ${schema.jobs} (state, queue, worker, args, meta, tags)
         SELECT (ARRAY['available','scheduled','completed','discarded','cancelled'])[1 + i % 5]::"${schema.prefix}".oban_job_state,
                CASE WHEN i % 3 = 0 THEN 'gamma' ELSE 'delta' END,
                CASE WHEN i % 2 = 0 THEN 'EvenWorker' ELSE 'OddWorker' END,
                jsonb_build_object('n', i, 'email', 'user' || i || '@example.com'),
                CASE WHEN i = 277 THEN '{"trace":"needle-in-meta"}'::jsonb ELSE '{}'::jsonb END,
                CASE WHEN i % 10 = 0 THEN ARRAY['tenth'] ELSE ARRAY[]::text[] END
         FROM generate_series(1, 300) AS i`,
      );
    });
    after(async () => {
      await d?.close();
      await schema.drop();
    });

    const ids = (body: any) => body.jobs.map((j: any) => j.id);

    it('lists newest first and pages by keyset to the end, each job once', async () => {
      const seen: number[] = [];
      let cursor: number | null = null;
      for (let pages = 0; pages < 20; pages++) {
        const { status, body } = await d.api('GET', `jobs?limit=70${cursor ? `&cursor=${cursor}` : ''}`);
        assert.equal(status, 200);
        seen.push(...ids(body));
        cursor = body.next;
        if (cursor === null) break;
      }
      assert.deepEqual(
        seen,
        Array.from({ length: 300 }, (_, i) => 300 - i),
      );
    });

    it('filters by state, queue, worker, tag and text, alone and together', async () => {
      const expected = (pick: (i: number) => boolean) => Array.from({ length: 300 }, (_, k) => 300 - k).filter(pick);
      const get = async (q: string) => {
        const { status, body } = await d.api('GET', `jobs?limit=200&${q}`);
        assert.equal(status, 200, JSON.stringify(body));
        return body;
      };
      // state 'discarded' is index 4 of the array: i % 5 = 3.
      assert.deepEqual(
        ids(await get('state=discarded')),
        expected((i) => i % 5 === 3),
      );
      assert.deepEqual(
        ids(await get('queue=gamma')),
        expected((i) => i % 3 === 0),
      );
      assert.deepEqual(
        ids(await get('worker=EvenWorker&queue=gamma')),
        expected((i) => i % 6 === 0),
      );
      assert.deepEqual(ids(await get('tag=tenth')).slice(0, 5), [300, 290, 280, 270, 260]);
      assert.deepEqual(ids(await get('text=user123%40')), [123]);
      assert.deepEqual(ids(await get('text=NEEDLE-in')), [277], 'meta is searched, case-insensitively');
      assert.deepEqual(ids(await get('text=%25')), [], "the user's % is a literal");
      assert.deepEqual(
        ids(await get('state=completed&queue=delta&worker=OddWorker')),
        expected((i) => i % 5 === 2 && i % 3 !== 0 && i % 2 === 1),
      );
      assert.deepEqual((await get('state=completed')).jobs[0].state, 'completed');
    });

    it('a narrow filter reads one window per request and says how far it searched', async () => {
      // searchWindow is 100: the newest 100 ids (201-300) hold no match for user12@.
      const first = await d.api('GET', 'jobs?text=user12%40');
      assert.deepEqual(first.body.jobs, []);
      assert.equal(first.body.searchedDownTo, 201);
      assert.equal(first.body.next, 201);
      const second = await d.api('GET', 'jobs?text=user12%40&cursor=201');
      assert.equal(second.body.searchedDownTo, 101);
      const third = await d.api('GET', 'jobs?text=user12%40&cursor=101');
      assert.deepEqual(ids(third.body), [12]);
      assert.equal(third.body.next, null);
    });

    it('refuses a bad filter, cursor or limit, naming it', async () => {
      const state = await d.api('GET', 'jobs?state=lost');
      assert.equal(state.status, 400);
      assert.match(state.body.message, /unknown state "lost"/);
      const limit = await d.api('GET', 'jobs?limit=5000');
      assert.equal(limit.status, 400);
      assert.match(limit.body.message, /limit must be a whole number from 1 to 200/);
      const cursor = await d.api('GET', 'jobs?cursor=-3');
      assert.equal(cursor.status, 400);
      assert.match(cursor.body.message, /cursor/);
    });

    it('counts what a filter matches, exactly on a small table', async () => {
      assert.deepEqual((await d.api('GET', 'jobs/count?queue=gamma')).body, { count: 100, estimated: false });
      assert.deepEqual((await d.api('GET', 'jobs/count?state=discarded&tag=tenth')).body, {
        count: 0,
        estimated: false,
      });
      assert.deepEqual((await d.api('GET', 'jobs/count')).body, { count: 300, estimated: false });
    });

    it('serves the page and its files with no outside source', async () => {
      const page = await fetch(d.base, { headers: { 'x-role': 'viewer' } });
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /text\/html/);
      assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
      const html = await page.text();
      assert.match(html, /src="\/oban\/assets\/app\.js"/);
      assert.doesNotMatch(html, /https?:\/\//, 'no CDN');
      const js = await fetch(`${d.base}/assets/app.js`, { headers: { 'x-role': 'viewer' } });
      assert.match(js.headers.get('content-type') ?? '', /javascript/);
      const source = await js.text();
      assert.doesNotThrow(() => new Function(source), 'the script parses');
      const css = await fetch(`${d.base}/assets/app.css`, { headers: { 'x-role': 'viewer' } });
      assert.match(css.headers.get('content-type') ?? '', /text\/css/);
    });

    it('serves the page at its path with a trailing slash too, query kept', async () => {
      const page = await fetch(`${d.base}/?from=bookmark`, { headers: { 'x-role': 'viewer' } });
      assert.equal(page.status, 200);
      assert.match(await page.text(), /src="\/oban\/assets\/app\.js"/);
      assert.match(page.url, /\/oban\/?\?from=bookmark$/);
    });
  });

  describe(`dashboard API on ${adapter}: actions`, () => {
    const schema = new TestSchema(`dash_a_${adapter}`);
    let d: DashboardApp;
    before(async () => {
      d = await bootDashboardApp({ prefix: schema.prefix, adapter });
    });
    after(async () => {
      await d?.close();
      await schema.drop();
    });

    it('retries a failed job: it runs again with one more attempt', async () => {
      const job = await d.oban.insert(FlakyReportWorker, { n: 1 });
      await waitFor('the job discarded', async () => (await d.oban.getJob(job.id))?.state === 'discarded');
      const { status, body } = await d.api('POST', `jobs/${job.id}/retry`, { body: {} });
      assert.equal(status, 200);
      assert.equal(body.ok, true);
      const again = await waitFor('the second attempt', async () => {
        const j = await d.oban.getJob(job.id);
        return j?.attempt === 2 && j.state === 'discarded' && j;
      });
      assert.equal(again.errors.length, 2);
      assert.equal(again.maxAttempts, 2);
    });

    it('cancels an executing job on the node running it; cancelling it again does nothing', async () => {
      const job = await d.oban.insert(LongExportWorker, { ms: 30_000 });
      await waitFor('the job executing', async () => (await d.oban.getJob(job.id))?.state === 'executing');
      const { body } = await d.api('POST', `jobs/${job.id}/cancel`, { body: {} });
      assert.deepEqual(body, { id: job.id, ok: true, state: 'cancelled' });
      await waitFor('the job no longer running here', () => d.oban.checkQueue('beta')?.running === 0);
      const twice = await d.api('POST', `jobs/${job.id}/cancel`, { body: {} });
      assert.deepEqual(twice.body, { id: job.id, ok: false, state: 'cancelled' });
    });

    it('deletes a job, refuses to delete an executing one, and answers 404/400 for missing and bad ids', async () => {
      const done = await d.oban.insert(WelcomeMailWorker, { email: 'a@example.com' });
      await waitFor('the job completed', async () => (await d.oban.getJob(done.id))?.state === 'completed');
      assert.deepEqual((await d.api('POST', `jobs/${done.id}/delete`, { body: {} })).body, {
        id: done.id,
        ok: true,
        state: null,
      });
      assert.equal(await d.oban.getJob(done.id), null);
      const running = await d.oban.insert(LongExportWorker, { ms: 30_000 });
      await waitFor('executing', async () => (await d.oban.getJob(running.id))?.state === 'executing');
      const refused = await d.api('POST', `jobs/${running.id}/delete`, { body: {} });
      assert.equal(refused.body.ok, false);
      assert.match(refused.body.error, /executing; cancel it first/);
      await d.oban.cancelJob(running.id);
      assert.equal((await d.api('GET', `jobs/${done.id}`)).status, 404);
      assert.equal((await d.api('GET', 'jobs/abc')).status, 400);
      assert.equal((await d.api('POST', 'jobs/0/retry', { body: {} })).status, 400);
    });

    it('shows one job: args, result, errors with stacks, attempts, times and the node that ran it', async () => {
      const job = await d.oban.insert(FlakyReportWorker, { n: 7 });
      await waitFor('discarded', async () => (await d.oban.getJob(job.id))?.state === 'discarded');
      const { body } = await d.api('GET', `jobs/${job.id}`, { role: 'viewer' });
      assert.deepEqual(body.args, { n: 7 });
      assert.equal(body.attempt, 1);
      assert.equal(body.errors.length, 1);
      assert.match(body.errors[0].error, /report 7 failed: upstream timed out/);
      assert.match(body.errors[0].stack, /FlakyReportWorker\.perform/);
      const snapshot = (await d.api('GET', 'snapshot')).body;
      assert.equal(body.attemptedBy[0], snapshot.node);
      assert.ok(body.discardedAt && body.insertedAt && body.attemptedAt);
    });

    it('acts on a selection of jobs, each reported', async () => {
      const jobs = await d.oban.insertAll(
        [1, 2, 3].map((n) => ({ worker: 'WelcomeMailWorker', args: { email: `${n}@x` }, queue: 'idle' })),
      );
      const { status, body } = await d.api('POST', 'jobs/actions', {
        body: { action: 'cancel', ids: [...jobs.map((j) => j.id), 999_999] },
      });
      assert.equal(status, 200);
      assert.deepEqual(
        body.results.map((r: any) => [r.ok, r.state]),
        [
          [true, 'cancelled'],
          [true, 'cancelled'],
          [true, 'cancelled'],
          [false, null],
        ],
      );
      const bad = await d.api('POST', 'jobs/actions', { body: { action: 'explode', ids: [1] } });
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /action must be one of retry, cancel, delete/);
      assert.equal((await d.api('POST', 'jobs/actions', { body: { action: 'retry', ids: [] } })).status, 400);
    });

    it('acts on everything a filter matches, chunk by chunk', async () => {
      await d.oban.insertAll(
        Array.from({ length: 450 }, (_, n) => ({
          worker: 'WelcomeMailWorker',
          args: { email: `${n}@bulk` },
          queue: 'bulk',
        })),
      );
      const filter = { queue: 'bulk', state: 'available' };
      assert.deepEqual((await d.api('GET', 'jobs/count?queue=bulk&state=available')).body, {
        count: 450,
        estimated: false,
      });
      let cursor: number | null = null;
      let chunks = 0;
      let applied = 0;
      do {
        const { status, body }: { status: number; body: any } = await d.api('POST', 'jobs/bulk', {
          body: { action: 'delete', filter, cursor },
        });
        assert.equal(status, 200, JSON.stringify(body));
        assert.ok(body.applied <= 200, 'a chunk is bounded');
        applied += body.applied;
        cursor = body.next;
        chunks++;
      } while (cursor !== null && chunks < 10);
      assert.equal(applied, 450);
      assert.ok(chunks >= 3, `${chunks} chunks`);
      assert.equal(await schema.count(`queue = 'bulk'`), 0);
    });

    it('pauses, resumes and scales a queue on the node, and says which queue is unknown', async () => {
      assert.deepEqual((await d.api('POST', 'queues/alpha/pause', { body: {} })).body, {
        queue: 'alpha',
        paused: true,
      });
      assert.equal(d.oban.checkQueue('alpha')?.paused, true);
      const paused = await waitFor('the snapshot to show the pause', async () => {
        const q = (await d.api('GET', 'snapshot')).body.queues.find((x: any) => x.name === 'alpha');
        return q.paused === true && q;
      });
      assert.deepEqual(paused.nodes.length, 1);
      await d.api('POST', 'queues/alpha/resume', { body: {} });
      assert.equal(d.oban.checkQueue('alpha')?.paused, false);
      assert.deepEqual((await d.api('POST', 'queues/beta/scale', { body: { limit: 7 } })).body, {
        queue: 'beta',
        limit: 7,
      });
      assert.equal(d.oban.checkQueue('beta')?.limit, 7);
      const unknown = await d.api('POST', 'queues/nope/pause', { body: {} });
      assert.equal(unknown.status, 400);
      assert.match(unknown.body.message, /unknown queue "nope"/);
      const badLimit = await d.api('POST', 'queues/beta/scale', { body: { limit: 0 } });
      assert.equal(badLimit.status, 400);
      assert.match(badLimit.body.message, /limit must be a whole number >= 1/);
    });
  });
}

describe('dashboard API: limits across nodes on the Queues page', () => {
  const schema = new TestSchema('dash_limits');
  let d: DashboardApp;
  before(async () => {
    d = await bootDashboardApp({
      prefix: schema.prefix,
      dashboard: { refreshInterval: 100 },
      oban: {
        queues: {
          alpha: 5,
          beta: 2,
          media: { limit: 3, globalLimit: 4, rateLimit: { allowed: 60, period: 60 }, partition: { args: ['tenant'] } },
        },
      },
    });
  });
  after(async () => {
    await d?.close();
    await schema.drop();
  });
  const queue = async (name: string) => (await d.api('GET', 'snapshot')).body.queues.find((q: any) => q.name === name);

  it('shows the global and rate limits and the partition of each queue, and follows a scale', async () => {
    assert.deepEqual((await queue('media')).limits, {
      globalLimit: 4,
      rateLimit: { allowed: 60, period: 60 },
      partition: { args: ['tenant'] },
    });
    assert.deepEqual((await queue('alpha')).limits, {}, 'a queue with none');
    await d.oban.scaleQueue('media', { globalLimit: 2, rateLimit: null });
    await waitFor('the scale shown', async () => (await queue('media')).limits.globalLimit === 2);
    assert.deepEqual((await queue('media')).limits, { globalLimit: 2, partition: { args: ['tenant'] } });
  });

  it('for a queue this node does not run: the limits stored by a scale, else unknown', async () => {
    await schema.query(
      `INSERT INTO "${schema.prefix}".oban_queues (name, limits) VALUES ('elsewhere', '{"globalLimit": 7}')`,
    );
    await schema.query(`INSERT INTO ${schema.jobs} (queue, worker) VALUES ('nowhere', 'NoWorker')`);
    const elsewhere = await waitFor('the stored queue', () => queue('elsewhere'));
    assert.deepEqual(elsewhere.limits, { globalLimit: 7 });
    const nowhere = await waitFor('the queue of a job', () => queue('nowhere'));
    assert.equal(nowhere.limits, null, 'as configured on whichever node runs it');
  });
});

describe('dashboard API: live figures', () => {
  const schema = new TestSchema('dash_live');
  let d: DashboardApp;
  before(async () => {
    d = await bootDashboardApp({ prefix: schema.prefix, dashboard: { refreshInterval: 60_000 } });
  });
  after(async () => {
    await d?.close();
    await schema.drop();
  });

  it('queues with counts by state, nodes with the leader, activity per minute, executing now', async () => {
    await d.oban.insertAll([
      { worker: WelcomeMailWorker, args: { email: 'a@x' } },
      { worker: WelcomeMailWorker, args: { email: 'b@x' } },
      { worker: FlakyReportWorker, args: { n: 1 } },
      { worker: LongExportWorker, args: { ms: 30_000 } },
    ]);
    await waitFor(
      'the jobs run',
      async () => (await schema.count(`state IN ('completed', 'discarded', 'executing')`)) === 4,
    );
    await waitFor('a leader', async () => d.oban.isLeader());
    const service = d.app.get(DashboardService);
    const before = service.snapshots.refreshes;
    // Many viewers at once share one read (refreshInterval is a minute here).
    const answers = await Promise.all(Array.from({ length: 12 }, () => d.api('GET', 'snapshot', { role: 'viewer' })));
    assert.equal(service.snapshots.refreshes, before + 1, 'one read for all viewers');
    const s = answers[0].body;
    for (const a of answers) assert.deepEqual(a.body, s);
    const alpha = s.queues.find((q: any) => q.name === 'alpha');
    assert.equal(alpha.counts.completed, 2);
    assert.equal(alpha.counts.discarded, 1);
    assert.equal(alpha.limit, 5);
    const beta = s.queues.find((q: any) => q.name === 'beta');
    assert.equal(beta.executing, 1);
    assert.equal(beta.counts.executing, 1);
    assert.equal(s.nodes.length, 1);
    assert.equal(s.nodes[0].self, true);
    assert.equal(s.nodes[0].leader, true);
    assert.equal(s.leader, s.node);
    assert.deepEqual(s.nodes[0].processes, []);
    assert.ok(Date.parse(s.nodes[0].heartbeatAt) <= Date.parse(s.at) + 1000);
    assert.equal(s.activity.minutes.length, 60);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    assert.equal(sum(s.activity.queues.alpha.completed), 2);
    assert.equal(sum(s.activity.queues.alpha.failed), 1);
    await d.oban.cancelJob((await d.oban.listJobs({ queue: 'beta', state: 'executing' }))[0].id);
  });

  it('an action is seen by the next read, not hidden behind the cached figures', async () => {
    const queue = async () => (await d.api('GET', 'snapshot')).body.queues.find((q: any) => q.name === 'alpha');
    assert.equal((await queue()).paused, false);
    await d.api('POST', 'queues/alpha/pause', { body: {} });
    // refreshInterval is a minute here: only the action's own invalidation makes this read new.
    assert.equal((await queue()).paused, true);
    await d.api('POST', 'queues/alpha/resume', { body: {} });
    assert.equal((await queue()).paused, false);
  });

  it('keeps the past minutes of activity it read, so pruning does not empty the chart', async () => {
    const fast = await bootDashboardApp({ prefix: schema.prefix, dashboard: { refreshInterval: 100 } });
    try {
      await schema.query(
        `INSERT INTO ${schema.jobs} (state, queue, worker, attempt, attempted_at, completed_at)
         SELECT 'completed', 'history', 'OldWorker', 1, now() - interval '10 minutes', now() - interval '10 minutes'
         FROM generate_series(1, 7)`,
      );
      const sum = (s: any) => (s.activity.queues.history?.completed ?? []).reduce((a: number, b: number) => a + b, 0);
      assert.equal(sum((await fast.api('GET', 'snapshot')).body), 7);
      await schema.query(`DELETE FROM ${schema.jobs} WHERE queue = 'history'`); // as the pruner would
      const later = await waitFor('a later read', async () => {
        const s = (await fast.api('GET', 'snapshot')).body;
        return !s.queues.some((q: any) => q.name === 'history') && s;
      });
      assert.equal(sum(later), 7, 'the minute read before is kept');
    } finally {
      await fast.close();
    }
  });

  it('counts become the planner estimates above estimateAbove', async () => {
    const small = await bootDashboardApp({ prefix: schema.prefix, dashboard: { estimateAbove: 0 } });
    try {
      await schema.query(`ANALYZE ${schema.jobs}`);
      const { body } = await small.api('GET', 'jobs/count?queue=alpha');
      assert.equal(body.estimated, true);
      assert.equal(typeof body.count, 'number');
      const snapshot = (await small.api('GET', 'snapshot')).body;
      assert.equal(snapshot.estimated, true);
    } finally {
      await small.close();
    }
  });
});

describe('dashboard API: access', () => {
  const schema = new TestSchema('dash_access');
  const apps: DashboardApp[] = [];
  const boot = async (dashboard: Parameters<typeof bootDashboardApp>[0]['dashboard']) => {
    const d = await bootDashboardApp({ prefix: schema.prefix, dashboard: { authorize: undefined, ...dashboard } });
    apps.push(d);
    return d;
  };
  after(async () => {
    for (const d of apps) await d.close();
    await schema.drop();
  });

  it('exposes nothing when given neither guards nor authorize nor public', async () => {
    const d = await boot({});
    for (const path of ['me', 'snapshot', 'jobs', 'jobs/1']) {
      const { status, body } = await d.api('GET', path, { role: 'admin' });
      assert.equal(status, 403, path);
      assert.match(
        body.message,
        /exposes nothing until ObanDashboardModule\.forRoot\(\) is given guards, authorize, or public: true/,
      );
    }
    assert.equal((await fetch(d.base)).status, 403);
    assert.equal((await d.api('POST', 'queues/alpha/pause', { body: {} })).status, 403);
    assert.equal(d.oban.checkQueue('alpha')?.paused, false);
  });

  it("runs the app's guards: a class resolved from the app, or an instance", async () => {
    const byClass = await boot({ guards: [TokenGuard] });
    assert.equal((await byClass.api('GET', 'me', { role: '' })).status, 403);
    const me = await byClass.api('GET', 'me', { role: '', headers: { 'x-token': 'let-me-in' } });
    assert.equal(me.status, 200);
    assert.equal(me.body.permissions.delete, true);
    const byInstance = await boot({
      guards: [{ canActivate: (c) => c.switchToHttp().getRequest().headers['x-ok'] === '1' }],
    });
    assert.equal((await byInstance.api('GET', 'snapshot', { role: '' })).status, 403);
    assert.equal((await byInstance.api('GET', 'snapshot', { role: '', headers: { 'x-ok': '1' } })).status, 200);
  });

  it('gives each viewer the permissions authorize returns, per action', async () => {
    const d = await boot({ authorize: roleAccess });
    const job = await d.oban.insert(WelcomeMailWorker, { email: 'x@y' }, { queue: 'idle' });
    assert.equal((await d.api('GET', 'jobs', { role: 'stranger' })).status, 403);
    const viewer = await d.api('GET', 'me', { role: 'viewer' });
    assert.deepEqual(viewer.body.permissions, {
      read: true,
      retry: false,
      cancel: false,
      delete: false,
      pause: false,
      scale: false,
    });
    assert.equal((await d.api('GET', 'jobs', { role: 'viewer' })).status, 200);
    for (const [path, body] of [
      [`jobs/${job.id}/retry`, {}],
      [`jobs/${job.id}/cancel`, {}],
      [`jobs/${job.id}/delete`, {}],
      ['jobs/actions', { action: 'delete', ids: [job.id] }],
      ['jobs/bulk', { action: 'cancel', filter: {} }],
      ['queues/alpha/pause', {}],
      ['queues/alpha/resume', {}],
      ['queues/alpha/scale', { limit: 2 }],
    ] as const) {
      const answer = await d.api('POST', path, { role: 'viewer', body });
      assert.equal(answer.status, 403, `viewer: ${path}`);
    }
    assert.equal((await d.oban.getJob(job.id))?.state, 'available', 'untouched');
    assert.equal(d.oban.checkQueue('alpha')?.limit, 5);
    // The retrier may retry, and nothing else.
    assert.equal((await d.api('POST', `jobs/${job.id}/retry`, { role: 'retrier', body: {} })).status, 200);
    assert.equal((await d.api('POST', `jobs/${job.id}/cancel`, { role: 'retrier', body: {} })).status, 403);
    assert.equal(
      (await d.api('POST', 'jobs/actions', { role: 'retrier', body: { action: 'cancel', ids: [job.id] } })).status,
      403,
    );
    assert.equal((await d.api('POST', 'queues/alpha/pause', { role: 'retrier', body: {} })).status, 403);
    // The operator runs the queues, and touches no job.
    assert.equal((await d.api('POST', 'queues/alpha/scale', { role: 'operator', body: { limit: 3 } })).status, 200);
    assert.equal(d.oban.checkQueue('alpha')?.limit, 3);
    assert.equal((await d.api('POST', `jobs/${job.id}/delete`, { role: 'operator', body: {} })).status, 403);
  });

  it("the sample app's rule: requests from this machine may do everything", async () => {
    const d = await boot({ authorize: fromThisMachine });
    const me = await d.api('GET', 'me', { role: '' });
    assert.equal(me.status, 200);
    assert.equal(me.body.permissions.pause, true);
    assert.equal(fromThisMachine({ socket: { remoteAddress: '10.1.2.3' } }), false);
    assert.equal(fromThisMachine({ raw: { socket: { remoteAddress: '::1' } } }), true);
  });

  it('readOnly refuses every action, whatever authorize says; reads still work', async () => {
    const d = await boot({ public: true, readOnly: true });
    const me = await d.api('GET', 'me');
    assert.equal(me.body.readOnly, true);
    assert.equal(me.body.permissions.retry, false);
    const refused = await d.api('POST', 'queues/alpha/pause', { body: {} });
    assert.equal(refused.status, 403);
    assert.match(refused.body.message, /read-only/);
    assert.equal((await d.api('GET', 'jobs')).status, 200);
  });

  it('takes actions as JSON only (a cross-site form cannot post one)', async () => {
    const d = await boot({ public: true });
    const response = await fetch(`${d.base}/api/queues/alpha/pause`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '{}',
    });
    assert.equal(response.status, 415);
    assert.equal(d.oban.checkQueue('alpha')?.paused, false);
  });

  it('redacts jobs before they are shown, in lists and in detail', async () => {
    const d = await boot({
      public: true,
      redact: (job) => ({ ...job, args: { email: '[redacted]' }, result: null }),
    });
    const job = await d.oban.insert(WelcomeMailWorker, { email: 'secret@example.com' }, { queue: 'idle' });
    const detail = await d.api('GET', `jobs/${job.id}`);
    assert.deepEqual(detail.body.args, { email: '[redacted]' });
    const list = await d.api('GET', 'jobs?queue=idle');
    assert.ok(list.body.jobs.length > 0);
    for (const j of list.body.jobs) assert.deepEqual(j.args, { email: '[redacted]' });
    assert.doesNotMatch(JSON.stringify(list.body), /secret@example\.com/);
    assert.deepEqual(
      (await d.oban.getJob(job.id))?.args,
      { email: 'secret@example.com' },
      'the stored job is untouched',
    );
  });

  it("is the package's nest-oban/dashboard entry", () => {
    const pkg = JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
    const entry = pkg.exports['./dashboard'];
    assert.deepEqual(entry, { types: './dist/lib/dashboard/index.d.ts', default: './dist/lib/dashboard/index.js' });
    // What tsc builds there: lib/dashboard/index.ts, which exports the module.
    assert.ok(existsSync(path.join(__dirname, '..', 'lib', 'dashboard', 'index.ts')));
    assert.equal(typeof ObanDashboardModule.forRoot, 'function');
  });

  it('refuses bad options, naming the option', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ pth: '/x' }, /unknown option 'pth'/],
      [{ path: 'oban' }, /path must be a URL path starting with '\/'/],
      [{ guards: [42] }, /guards\[0\] is neither a CanActivate class nor an object with canActivate\(\)/],
      [{ authorize: true }, /authorize must be a function/],
      [{ readOnly: 'yes' }, /readOnly must be true or false/],
      [{ refreshInterval: 5 }, /refreshInterval must be a whole number >= 100/],
      [{ redact: {} }, /redact must be a function/],
    ];
    for (const [options, message] of cases) {
      assert.throws(
        () => ObanDashboardModule.forRoot(options as never),
        (e: Error) => {
          assert.ok(e instanceof ObanConfigError);
          assert.match(e.message, message);
          return true;
        },
      );
    }
  });
});

describe('dashboard API on the embedded PGlite', () => {
  let d: DashboardApp | undefined;
  after(async () => {
    await d?.close();
  });

  it('reads, filters and acts as on a server', async () => {
    d = await bootDashboardApp({ prefix: 'public', oban: { connection: undefined, pglite: { dataDir: 'memory://' } } });
    const job = await d.oban.insert(FlakyReportWorker, { n: 5 });
    await waitFor('discarded', async () => (await d!.oban.getJob(job.id))?.state === 'discarded');
    const list = await d.api('GET', 'jobs?state=discarded&text=5');
    assert.deepEqual(
      list.body.jobs.map((j: any) => j.id),
      [job.id],
    );
    assert.deepEqual((await d.api('GET', 'jobs/count?queue=alpha')).body, { count: 1, estimated: false });
    const snapshot = (await d.api('GET', 'snapshot')).body;
    assert.equal(snapshot.queues.find((q: any) => q.name === 'alpha').counts.discarded, 1);
    assert.equal((await d.api('POST', `jobs/${job.id}/retry`, { body: {} })).body.ok, true);
    await waitFor('the retry ran', async () => (await d!.oban.getJob(job.id))?.attempt === 2);
  });
});
