import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { INestApplicationContext } from '@nestjs/common';
import { Oban, Worker, workflowOf, type Job, type Workflow } from '../lib';
import { createApp } from './support/app';
import { DATABASE_URL, TestSchema } from './support/db';
import { waitFor } from './support/wait';

const FAN_IN = 10_000;

@Worker({ queue: 'fan' })
class PartWorker {
  perform(job: Job<{ i: number }>) {
    return { i: job.args.i };
  }
}

@Worker({ queue: 'fan' })
class TotalWorker {
  perform(job: Job) {
    const results = workflowOf<Record<string, { i: number }>>(job)!.results;
    return { inputs: Object.keys(results).length, sum: Object.values(results).reduce((a, r) => a + r.i, 0) };
  }
}

@Worker({ queue: 'parked' })
class ParkedWorker {
  perform() {}
}

/** A workflow of FAN_IN parts and one step depending on all of them. */
function fanIn(
  oban: Oban,
  part: typeof PartWorker | typeof ParkedWorker,
  total: typeof TotalWorker | typeof ParkedWorker,
) {
  // Names built at run time: typed as any string (the second parameter: names deps may take).
  let wf: Workflow<never, string> = oban.workflow();
  const names: string[] = [];
  for (let i = 0; i < FAN_IN; i++) {
    wf = wf.add(`part-${i}`, part as typeof PartWorker, { i });
    names.push(`part-${i}`);
  }
  return wf.add('total', total as typeof TotalWorker, {}, { deps: names });
}

describe(`large fan-in: one step depending on ${FAN_IN} jobs`, () => {
  const schema = new TestSchema('workflow_fanin');
  let app: INestApplicationContext;
  let oban: Oban;
  before(async () => {
    app = await createApp({
      oban: { connection: DATABASE_URL, prefix: schema.prefix, migrate: true, queues: { fan: 50 } },
      providers: [PartWorker, TotalWorker, ParkedWorker],
    });
    oban = app.get(Oban);
  });
  after(async () => {
    await app?.close();
    await schema.drop();
  });

  it('runs every part, then the total with all their results (released by the last part)', async () => {
    const wf = await fanIn(oban, PartWorker, TotalWorker).insert();
    assert.equal(wf.jobs.total.state, 'suspended');
    const total = await waitFor(
      'the total completed',
      async () => {
        const j = await oban.getJob(wf.jobs.total.id);
        return j?.state === 'completed' && j;
      },
      { timeout: 300_000, interval: 100 },
    );
    assert.deepEqual(total.result, { inputs: FAN_IN, sum: (FAN_IN * (FAN_IN - 1)) / 2 });
    const [last] = await schema.query<{ ms: number; releaseToStart: number }>(
      `SELECT extract(epoch FROM max(completed_at)) * 1000 AS ms FROM ${schema.jobs}
       WHERE meta->>'workflow_id' = $1 AND meta->>'workflow_step' <> 'total'`,
      [wf.id],
    );
    const lag = total.attemptedAt!.getTime() - Number(last.ms);
    // Information, not a claim: from the last part's completion to the total's start on this (shared) machine.
    console.log(`fan-in ${FAN_IN}: the total started ${lag.toFixed(0)} ms after the last part completed`);
  });

  it('each completing part costs the same, early or late: indexed updates, no scan of the workflow', async () => {
    const wf = await fanIn(oban, ParkedWorker, ParkedWorker).insert();
    const ids = Object.entries(wf.jobs)
      .filter(([step]) => step !== 'total')
      .map(([, j]) => j.id);
    const client = await schema.pool.connect();
    const complete = `UPDATE ${schema.jobs} SET state = 'completed', completed_at = now() WHERE id = $1`;
    // This connection's own sequential scans in its open transaction (pg_stat_xact_*): the node's plugins
    // poll the same tables meanwhile, and a scan of theirs must not count against the completions (it did).
    const ownSeqScans = async () => {
      const { rows } = await client.query(
        `SELECT relname, seq_scan FROM pg_stat_xact_user_tables
         WHERE schemaname = $1 AND relname IN ('oban_jobs', 'oban_workflow_deps') ORDER BY relname`,
        [schema.prefix],
      );
      return rows.map((r) => `${r.relname}:${r.seq_scan}`);
    };
    const noScans = ['oban_jobs:0', 'oban_workflow_deps:0'];
    const acks = async (slice: number[]) => {
      const began = process.hrtime.bigint();
      for (const id of slice) await client.query(complete, [id]);
      return Number(process.hrtime.bigint() - began) / 1e3 / slice.length;
    };
    /** Completes `slice` one row per statement in one transaction; returns µs per row and the scans it made. */
    const scannedAcks = async (slice: number[]) => {
      // The backend keeps counts of earlier statements pending (shown by the view too) until it flushes them.
      await client.query('SELECT pg_stat_force_next_flush()');
      await client.query('BEGIN');
      const perRow = await acks(slice);
      const scans = await ownSeqScans();
      await client.query('COMMIT');
      return { perRow, scans };
    };
    try {
      await client.query('ANALYZE ' + `"${schema.prefix}".oban_workflow_deps`);
      const early = await scannedAcks(ids.slice(0, 1_000));
      // The middle in batches of 2000 rows per statement (the acker's largest batch).
      const batchMs: number[] = [];
      for (let from = 1_000; from < FAN_IN - 1_000; from += 2_000) {
        const began = Date.now();
        await client.query(`UPDATE ${schema.jobs} SET state = 'completed', completed_at = now() WHERE id = ANY($1)`, [
          ids.slice(from, Math.min(from + 2_000, FAN_IN - 1_000)),
        ]);
        batchMs.push(Date.now() - began);
      }
      const late = await scannedAcks(ids.slice(FAN_IN - 1_000, FAN_IN - 1));
      const plain = await oban.insertAll(ids.slice(0, 1_000).map(() => ({ worker: ParkedWorker, args: {} })));
      const baseline = await acks(plain.map((j) => j.id));
      const [held] = await schema.query(
        `SELECT j.state::text, h.pending FROM ${schema.jobs} j JOIN "${schema.prefix}".oban_workflow_holds h ON h.job_id = j.id WHERE j.id = $1`,
        [wf.jobs.total.id],
      );
      assert.deepEqual(held, { state: 'suspended', pending: 1 });
      await client.query(complete, [ids[FAN_IN - 1]]);
      // Read at once, no waiting: the last completion released it in its own statement.
      assert.equal((await oban.getJob(wf.jobs.total.id))?.state, 'available');
      // Single-row completions (as acks are), early and late: no sequential scan of the jobs or edge tables.
      // (oban_workflow_holds has a row per held job, one here: the planner may rightly scan it after an analyze.)
      assert.deepEqual(early.scans, noScans);
      assert.deepEqual(late.scans, noScans);
      console.log(
        `fan-in ${FAN_IN}: one completing part (a single-row UPDATE and its trigger, one round trip) took ` +
          `${early.perRow.toFixed(0)} µs on average among the first 1000, ${late.perRow.toFixed(0)} µs among the last 1000; ` +
          `statements of 2000 parts each: ${batchMs.join(', ')} ms; ` +
          `the same single-row UPDATE of 1000 jobs of no workflow: ${baseline.toFixed(0)} µs on average`,
      );
    } finally {
      client.release();
    }
  });
});
