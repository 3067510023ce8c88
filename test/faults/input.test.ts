import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { INestApplicationContext } from '@nestjs/common';
import { Oban, ObanValidationError, Worker, type Job } from '../../lib';
import { resolveConfig } from '../../lib/config/config';
import { createApp } from '../support/app';
import { DATABASE_URL, TestSchema } from '../support/db';
import { waitFor } from '../support/wait';

@Worker({ queue: 'later' })
class LaterWorker {
  perform(job: Job<{ n: number }>) {
    return { n: job.args.n };
  }
}

/** Sleeps `ms`; its timeout comes from the decorator (25 days) or from `timeout(job)` per `args.timeout`. */
@Worker({ queue: 'input', timeout: 25 * 24 * 3600 * 1000, maxAttempts: 1 })
class TimedWorker {
  async perform(job: Job<{ ms: number; timeout?: 'throw' | 'nan' | 'zero' | 'default' }>) {
    await new Promise((resolve) => setTimeout(resolve, job.args.ms));
    return 'slept';
  }
  timeout(job: Job<{ ms: number; timeout?: 'throw' | 'nan' | 'zero' | 'default' }>): number {
    switch (job.args.timeout) {
      case 'throw':
        throw new Error('no timeout for you');
      case 'nan':
        return NaN;
      case 'zero':
        return 0;
      default:
        return undefined as unknown as number; // the decorator's
    }
  }
}

@Worker({ queue: 'input' })
class EchoWorker {
  perform(job: Job) {
    return job.args;
  }
}

describe('faults: bad input, end to end', () => {
  const schema = new TestSchema('faults_input');
  const base = { connection: DATABASE_URL, prefix: schema.prefix, migrate: true };
  const node = `o'brien "node"; DROP TABLE x; --`;
  let app: INestApplicationContext;
  let oban: Oban;

  before(async () => {
    app = await createApp({
      oban: { ...base, queues: { input: 5 }, node },
      providers: [TimedWorker, EchoWorker],
      logger: [],
    });
    oban = app.get(Oban);
  });
  after(async () => {
    await app?.close();
    await schema.drop();
  });

  it('an insert-only node enqueues by name into a queue no live node runs; the job runs once a node that runs it starts', async () => {
    const producer = await createApp({ oban: { ...base, queues: {} }, logger: [] });
    let job: Job;
    try {
      job = await producer.get(Oban).insert('LaterWorker', { n: 7 }, { queue: 'later' });
      assert.equal(job.state, 'available');
    } finally {
      await producer.close();
    }
    const consumer = await createApp({ oban: { ...base, queues: { later: 1 } }, providers: [LaterWorker], logger: [] });
    try {
      const done = await waitFor('the job to run on the node that starts later', async () => {
        const row = await consumer.get(Oban).getJob(job.id);
        return row?.state === 'completed' ? row : null;
      });
      assert.deepEqual(done.result, { n: 7 });
    } finally {
      await consumer.close();
    }
  });

  it('refuses args, meta and tags holding a \\u0000 or a lone surrogate, naming the field and path', async () => {
    const cases: Array<[string, () => Promise<unknown>, RegExp]> = [
      ['a NUL in args', () => oban.insert(EchoWorker, { a: { b: 'x\u0000' } }), /args\.a\.b holds a \\u0000/],
      [
        'a lone surrogate in meta',
        () => oban.insert(EchoWorker, {}, { meta: { m: ['\uD800'] } }),
        /meta\.m\[0\] holds a lone surrogate/,
      ],
      ['a NUL in a key of args', () => oban.insert(EchoWorker, { ['k\u0000']: 1 }), /a key of args holds a \\u0000/],
      ['a NUL in a tag', () => oban.insert(EchoWorker, {}, { tags: ['ok', 'bad\u0000'] }), /tags\[1\] holds a \\u0000/],
      [
        'a lone surrogate in a tag',
        () => oban.insert(EchoWorker, {}, { tags: ['\uDC00'] }),
        /tags\[0\] holds a lone surrogate/,
      ],
    ];
    for (const [what, insert, message] of cases) {
      await assert.rejects(insert, (error: unknown) => {
        assert.ok(error instanceof ObanValidationError, `${what}: ${String(error)}`);
        assert.match(error.message, /^insert\(EchoWorker\): /, what);
        assert.match(error.message, message, what);
        return true;
      });
    }
    assert.equal(await schema.count(`worker = 'EchoWorker'`), 0);
  });

  it('a 25-day timeout does not fire at once', async () => {
    const job = await oban.insert(TimedWorker, { ms: 300 });
    const done = await waitFor('the job to finish', async () => {
      const row = await oban.getJob(job.id);
      return row && row.state !== 'executing' && row.state !== 'available' ? row : null;
    });
    assert.equal(done.state, 'completed', JSON.stringify(done.errors));
  });

  it("a worker's timeout(job) that throws or returns NaN or 0 fails the attempt with the reason, never leaving it executing", async () => {
    for (const [kind, reason] of [
      ['throw', /InvalidTimeoutError: TimedWorker\.timeout\(job\) threw \(Error: no timeout for you\)/],
      ['nan', /InvalidTimeoutError: TimedWorker\.timeout\(job\) returned NaN/],
      ['zero', /InvalidTimeoutError: TimedWorker\.timeout\(job\) returned 0/],
    ] as const) {
      const job = await oban.insert(TimedWorker, { ms: 1, timeout: kind });
      const done = await waitFor(`the ${kind} job to be recorded`, async () => {
        const row = await oban.getJob(job.id);
        return row && row.errors.length > 0 ? row : null;
      });
      assert.equal(done.state, 'discarded');
      assert.match(done.errors[0].error, reason);
    }
  });

  it('refuses at boot an interval no Node timer can hold, naming the option', () => {
    const tooLong = 2 ** 31;
    for (const [options, name] of [
      [{ stageInterval: tooLong }, 'stageInterval'],
      [{ shutdownGracePeriod: tooLong }, 'shutdownGracePeriod'],
      [{ heartbeatInterval: tooLong, nodeTtl: tooLong, leaderTtl: tooLong }, 'heartbeatInterval'],
      [{ pruner: { interval: tooLong } }, 'pruner.interval'],
    ] as const) {
      assert.throws(
        () => resolveConfig({ ...base, ...options }, {}),
        new RegExp(`ObanModule: ${name.replace('.', '\\.')} must be a number of milliseconds from \\d+ to 2147483647`),
      );
    }
  });

  it('rows written by other tools are discarded with the reason, never crashing a fetch or a loop; names are stored verbatim', async () => {
    const insert = (worker: string, args: string, extra = '') =>
      schema.query<{ id: string }>(
        `INSERT INTO ${schema.jobs} (state, queue, worker, args, max_attempts${extra ? ', attempt' : ''})
         VALUES ('available', 'input', $1, $2::jsonb, 3${extra ? `, ${extra}` : ''}) RETURNING id`,
        [worker, args],
      );
    const [quoted] = await insert(`Robert'); DROP TABLE students; --`, '{}');
    const [arrayArgs] = await insert('EchoWorker', '[1, 2]');
    const [nullArgs] = await insert('EchoWorker', 'null');
    const [spent] = await insert('EchoWorker', '{}', '3');
    const good = await oban.insert(EchoWorker, { fine: true }, { tags: [`it's "quoted"`] });
    const state = async (id: string | number) => (await oban.getJob(Number(id)))!;
    await waitFor('the good job to complete', async () => (await state(good.id)).state === 'completed');
    for (const [row, reason] of [
      [quoted, /UnknownWorkerError: no @Worker named 'Robert'\); DROP TABLE students; --'/],
      [arrayArgs, /InvalidArgsError: the row's args are an array, not a JSON object/],
      [nullArgs, /InvalidArgsError: the row's args are null, not a JSON object/],
      [spent, /MaxAttemptsError: the job was available with all 3 attempts used/],
    ] as const) {
      const job = await waitFor(`row ${row.id} to be discarded`, async () => {
        const current = await state(row.id);
        return current.state === 'discarded' ? current : null;
      });
      assert.match(job.errors.at(-1)!.error, reason);
    }
    const done = await state(good.id);
    assert.deepEqual(done.attemptedBy, [node]);
    assert.deepEqual(done.tags, [`it's "quoted"`]);
  });
});
