import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { INestApplicationContext } from '@nestjs/common';
import { Oban, Worker, type Job } from '../lib';
import { MAX_HOLD_MS } from '../lib/queue/claim-ahead';
import { createApp } from './support/app';
import { DATABASE_URL, TestSchema } from './support/db';
import { sleep, waitFor } from './support/wait';

interface AheadArgs {
  ms?: number;
  gate?: boolean;
}

/**
 * Records every start (job id, attempt, the machine clock, how many ran at
 * once and how many the queue held claimed ahead); waits args.ms, or for the
 * gate to open.
 */
@Worker({ queue: 'ahead' })
class AheadWorker {
  static oban: Oban;
  static running = 0;
  static maxRunning = 0;
  static maxAhead = 0;
  static starts: Array<{ id: number; attempt: number; at: number; end?: number }> = [];
  static gate: Promise<void> = Promise.resolve();
  static openGate: () => void = () => undefined;
  static onStart: (count: number) => void = () => undefined;

  async perform(job: Job<AheadArgs>) {
    AheadWorker.running++;
    AheadWorker.maxRunning = Math.max(AheadWorker.maxRunning, AheadWorker.running);
    const start: (typeof AheadWorker.starts)[number] = { id: job.id, attempt: job.attempt, at: Date.now() };
    AheadWorker.starts.push(start);
    const ahead = AheadWorker.oban.checkQueue('ahead')?.claimedAhead ?? 0;
    AheadWorker.maxAhead = Math.max(AheadWorker.maxAhead, ahead);
    AheadWorker.onStart(AheadWorker.starts.length);
    try {
      if (job.args.gate) await AheadWorker.gate;
      else if (job.args.ms) await sleep(job.args.ms);
    } finally {
      AheadWorker.running--;
      start.end = Date.now();
    }
  }

  static reset() {
    AheadWorker.running = 0;
    AheadWorker.maxRunning = 0;
    AheadWorker.maxAhead = 0;
    AheadWorker.starts = [];
    AheadWorker.gate = new Promise((resolve) => (AheadWorker.openGate = resolve));
    AheadWorker.onStart = () => undefined;
  }
}

describe('claiming ahead of the free slots (a queue of short jobs)', () => {
  const schema = new TestSchema('ahead');
  let app: INestApplicationContext | undefined;
  const boot = async (limit: number) => {
    AheadWorker.reset();
    app = await createApp({
      oban: { connection: DATABASE_URL, prefix: schema.prefix, migrate: true, queues: { ahead: limit } },
      providers: [AheadWorker],
    });
    AheadWorker.oban = app.get(Oban);
    return AheadWorker.oban;
  };
  const insert = (oban: Oban, jobs: AheadArgs[]) => oban.insertAll(jobs.map((args) => ({ worker: AheadWorker, args })));
  const quick = (n: number): AheadArgs[] => Array.from({ length: n }, () => ({}));
  const finished = (n: number) =>
    waitFor(`${n} finished jobs`, async () => (await schema.count(`state IN ('completed', 'cancelled')`)) >= n, {
      timeout: 60_000,
    });
  /** Jobs of the queue that are not finished: each must be available with its attempt given back, or executing. */
  const unfinished = () =>
    schema.query<{ id: string; state: string; attempt: number }>(
      `SELECT id, state, attempt FROM ${schema.jobs} WHERE state NOT IN ('completed', 'cancelled') ORDER BY id`,
    );

  afterEach(async () => {
    AheadWorker.openGate();
    await app?.close();
    app = undefined;
    await schema.query(`DELETE FROM ${schema.jobs}`);
  });
  after(() => schema.drop());

  it('holds jobs ahead, yet never runs more than the limit at once; each job runs once, on its first attempt', async () => {
    const oban = await boot(2);
    await insert(oban, quick(3_000));
    await finished(3_000);
    assert.ok(AheadWorker.maxAhead > 0, 'the queue claimed ahead of its free slots');
    assert.ok(AheadWorker.maxRunning <= 2, `at most 2 ran at once, saw ${AheadWorker.maxRunning}`);
    assert.equal(AheadWorker.starts.length, 3_000, 'each job started once');
    assert.equal(await schema.count(`state = 'completed' AND attempt = 1`), 3_000);
  });

  it('records attempted_at as when the job started, not when it was claimed ahead', async () => {
    const oban = await boot(1);
    // 8 ms jobs one at a time: the queue holds a few ahead, the later of which wait tens of ms.
    await insert(
      oban,
      Array.from({ length: 150 }, () => ({ ms: 8 })),
    );
    await finished(150);
    assert.ok(AheadWorker.maxAhead >= 3, `some jobs waited claimed ahead (at most ${AheadWorker.maxAhead} held)`);
    const rows = await schema.query<{ id: string; attempted_ms: number }>(
      `SELECT id, extract(epoch FROM attempted_at) * 1000 AS attempted_ms FROM ${schema.jobs}`,
    );
    const attempted = new Map(rows.map((row) => [Number(row.id), Number(row.attempted_ms)]));
    // One at a time: each job started after the one before it ended, and attempted_at says so
    // (1 ms for the clock's rounding); a job's claim came while the one before still ran.
    const late = AheadWorker.starts.filter((s, i) => {
      const at = attempted.get(s.id)!;
      return at > s.at + 1 || (i > 0 && at < AheadWorker.starts[i - 1].end! - 1);
    });
    assert.deepEqual(late, [], "every attempted_at lies between the end of the job before and the job's own start");
  });

  it('a job cancelled while held ahead never runs', async () => {
    const oban = await boot(1);
    // Quick jobs give the queue a rate, so the claim that takes the gate job takes some after it too.
    const jobs = await insert(oban, [...quick(400), { gate: true }, ...quick(50)]);
    const gateId = jobs[400].id;
    await waitFor('the gate job to start', () => AheadWorker.starts.some((s) => s.id === gateId));
    const held = await schema.query<{ id: string }>(
      `SELECT id FROM ${schema.jobs} WHERE state = 'executing' AND id <> $1 ORDER BY id`,
      [gateId],
    );
    assert.ok(held.length > 0, 'jobs after the gate are held claimed ahead while it runs');
    const victim = Number(held[held.length - 1].id);
    assert.ok(await oban.cancelJob(victim), 'the held job could be cancelled');
    await sleep(100);
    AheadWorker.openGate();
    await finished(451);
    assert.ok(!AheadWorker.starts.some((s) => s.id === victim), 'the cancelled job never started');
    const [row] = await schema.query(`SELECT state FROM ${schema.jobs} WHERE id = $1`, [victim]);
    assert.equal(row.state, 'cancelled');
    assert.equal(await schema.count(`state = 'completed' AND attempt = 1`), 450);
  });

  it('a queue whose jobs turn slow hands back what it holds, without costing an attempt', async () => {
    const oban = await boot(1);
    const jobs = await insert(oban, [...quick(400), { gate: true }, ...quick(50)]);
    const gateId = jobs[400].id;
    await waitFor('the gate job to start', () => AheadWorker.starts.some((s) => s.id === gateId));
    // Nothing finishes while the gate runs: the rate falls and the held jobs go back, well before MAX_HOLD_MS.
    const rows = await waitFor(
      'the held jobs to go back',
      async () => {
        const rows = await unfinished();
        return rows.filter((r) => r.state === 'executing').length === 1 ? rows : null;
      },
      { timeout: MAX_HOLD_MS / 2, interval: 10 },
    );
    assert.deepEqual(
      rows.filter((r) => Number(r.id) !== gateId).map((r) => [r.state, r.attempt]),
      rows.filter((r) => Number(r.id) !== gateId).map(() => ['available', 0]),
      'every job but the gate is available again with no attempt used',
    );
    AheadWorker.openGate();
    await finished(451);
    assert.equal(await schema.count(`state = 'completed' AND attempt = 1`), 451);
  });

  for (const [what, act] of [
    ['pauses', (oban: Oban) => oban.pauseQueue('ahead')],
    ['scales down', (oban: Oban) => oban.scaleQueue('ahead', 1)],
  ] as const) {
    it(`jobs held ahead go back without costing an attempt when the queue ${what}`, async () => {
      const oban = await boot(4);
      let acted: Promise<void> | undefined;
      AheadWorker.onStart = (count) => {
        if (count === 1_000) acted = act(oban);
      };
      // 2 ms jobs: the queue holds tens of ms of work ahead, more than a pause takes to arrive.
      await insert(
        oban,
        Array.from({ length: 3_000 }, () => ({ ms: 2 })),
      );
      await waitFor('the action', () => acted !== undefined);
      await acted;
      const startsWhenActed = AheadWorker.starts.length;
      if (what === 'pauses') {
        await sleep(300);
        assert.equal(AheadWorker.starts.length, startsWhenActed, 'no job started once the pause was applied');
        await waitFor('nothing executing', async () => (await schema.count(`state = 'executing'`)) === 0);
        const rows = await unfinished();
        assert.ok(rows.length > 0, 'the pause came before the end');
        assert.ok(
          rows.every((r) => r.state === 'available' && r.attempt === 0),
          'paused: every unfinished job is available with no attempt used',
        );
        await oban.resumeQueue('ahead');
      }
      await finished(3_000);
      assert.equal(await schema.count(`attempt = 1`), 3_000, 'every job completed on its first attempt');
      assert.equal(AheadWorker.starts.length, 3_000, 'each job started once');
    });
  }

  it('jobs held ahead go back without costing an attempt when the node shuts down', async () => {
    const oban = await boot(2);
    let closing: Promise<void> | undefined;
    AheadWorker.onStart = (count) => {
      if (count === 1_000) closing = app!.close();
    };
    await insert(oban, quick(5_000));
    await waitFor('the shutdown', () => closing !== undefined);
    await closing;
    app = undefined;
    const rows = await unfinished();
    assert.ok(rows.length > 0, 'the shutdown came before the end');
    assert.ok(
      rows.every((r) => r.state === 'available' && r.attempt === 0),
      'every unfinished job is available with no attempt used',
    );
  });
});
