import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ObanConfigError, ObanValidationError } from '../lib/errors';
import { JOB_STATES } from '../lib/job';
import { type JobOptions, type ResolvedWorkerRef, validateJob } from '../lib/validation/job-options';
import { booleanOption, describe as describeValue, integerOption, numberOption } from '../lib/validation/option-checks';
import { type Fail, knownKeys, maxAttempts, priority, queueName, tags } from '../lib/validation/rules';
import { DEFAULT_MAX_ATTEMPTS, DEFAULT_QUEUE, resolveWorkerOptions } from '../lib/validation/worker-options';

class RuleError extends Error {}
const fail: Fail = (message) => {
  throw new RuleError(message);
};

/** Asserts `run` throws an error of class `type` whose message is exactly `message`. */
function throwsExactly(run: () => unknown, type: new (...args: any[]) => Error, message: string) {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof type, `expected a ${type.name}, got ${error}`);
    assert.equal(error.message, message);
    return true;
  });
}
const ruleFails = (run: () => unknown, message: string) => throwsExactly(run, RuleError, message);

describe('validation rules', () => {
  it('queueName accepts 1-127 letters, digits and _ - . :', () => {
    for (const name of ['default', 'a', 'Mail_2', 'mail.high', 'tenant:42', 'cpu-heavy', 'x'.repeat(127)]) {
      assert.equal(queueName(name, fail), name);
    }
  });

  it('queueName rejects anything else, quoting the value', () => {
    const message = (shown: string) =>
      `queue name ${shown} is invalid; use 1-127 letters, digits, '_', '-', '.' or ':'`;
    ruleFails(() => queueName('', fail), message('""'));
    ruleFails(() => queueName('has space', fail), message('"has space"'));
    ruleFails(() => queueName('mail/high', fail), message('"mail/high"'));
    ruleFails(() => queueName('café', fail), message('"café"'));
    ruleFails(() => queueName('x'.repeat(128), fail), message(`"${'x'.repeat(128)}"`));
    ruleFails(() => queueName(5, fail), message('5'));
    ruleFails(() => queueName(null, fail), message('null'));
    ruleFails(() => queueName(undefined, fail), message('undefined'));
  });

  it('priority is an integer from 0 to 9', () => {
    for (const value of [0, 1, 5, 9]) assert.equal(priority(value, fail), value);
    for (const value of [-1, 10, 1.5, NaN, '1', null]) {
      ruleFails(() => priority(value, fail), `priority must be an integer from 0 (highest) to 9, got ${String(value)}`);
    }
  });

  it('maxAttempts is an integer >= 1', () => {
    for (const value of [1, 3, 20, 1000]) assert.equal(maxAttempts(value, fail), value);
    for (const value of [0, -2, 2.5, Infinity, '3', undefined]) {
      ruleFails(() => maxAttempts(value, fail), `maxAttempts must be an integer >= 1, got ${String(value)}`);
    }
  });

  it('tags is an array of strings', () => {
    assert.deepEqual(tags([], fail), []);
    assert.deepEqual(tags(['a', 'b'], fail), ['a', 'b']);
    for (const value of ['a', ['a', 1], [null], null, { 0: 'a' }]) {
      ruleFails(() => tags(value, fail), 'tags must be an array of strings');
    }
  });

  it('knownKeys names the unknown key, the known ones, what and where', () => {
    knownKeys({ a: 1, b: 2 }, ['a', 'b', 'c'], fail);
    knownKeys({}, [], fail);
    ruleFails(() => knownKeys({ a: 1, queu: 'x' }, ['a', 'queue'], fail), "unknown option 'queu' (known: a, queue)");
    ruleFails(
      () => knownKeys({ every: 5 }, new Set(['interval', 'maxAge']), fail, { within: 'pruner' }),
      "pruner: unknown option 'every' (known: interval, maxAge)",
    );
    ruleFails(
      () =>
        knownKeys({ cron: '@daily', wroker: 'X' }, ['cron', 'worker'], fail, { what: 'field', within: 'crontab[2]' }),
      "crontab[2]: unknown field 'wroker' (known: cron, worker)",
    );
  });
});

describe('option checks', () => {
  it('numberOption: the fallback when unset, else a finite number >= min', () => {
    assert.equal(numberOption(undefined, 'stageInterval', 1000, 10, fail), 1000);
    assert.equal(numberOption(10, 'stageInterval', 1000, 10, fail), 10);
    assert.equal(numberOption(2.5, 'ratio', 1, 0, fail), 2.5);
    ruleFails(() => numberOption(5, 'stageInterval', 1000, 10, fail), 'stageInterval must be a number >= 10, got 5');
    ruleFails(
      () => numberOption('100', 'stageInterval', 1000, 10, fail, 'ms'),
      "stageInterval must be a number of ms >= 10, got '100'",
    );
    ruleFails(() => numberOption(NaN, 'x', 1, 0, fail), 'x must be a number >= 0, got NaN');
    ruleFails(() => numberOption(Infinity, 'x', 1, 0, fail), 'x must be a number >= 0, got Infinity');
    ruleFails(() => numberOption(null, 'x', 1, 0, fail), 'x must be a number >= 0, got null');
  });

  it('integerOption: the fallback when unset, else a whole number >= min', () => {
    assert.equal(integerOption(undefined, 'processes', 2, 0, fail), 2);
    assert.equal(integerOption(0, 'processes', 2, 0, fail), 0);
    ruleFails(() => integerOption(1.5, 'processes', 2, 0, fail), 'processes must be a whole number >= 0, got 1.5');
    ruleFails(() => integerOption(-1, 'processes', 2, 0, fail), 'processes must be a whole number >= 0, got -1');
    ruleFails(() => integerOption(3n, 'processes', 2, 0, fail), 'processes must be a whole number >= 0, got 3n');
    ruleFails(() => integerOption([2], 'processes', 2, 0, fail), 'processes must be a whole number >= 0, got an array');
  });

  it('booleanOption: the fallback when unset, else true or false', () => {
    assert.equal(booleanOption(undefined, 'migrate', true, fail), true);
    assert.equal(booleanOption(undefined, 'migrate', false, fail), false);
    assert.equal(booleanOption(false, 'migrate', true, fail), false);
    ruleFails(() => booleanOption('yes', 'migrate', false, fail), "migrate must be true or false, got 'yes'");
    ruleFails(() => booleanOption(1, 'migrate', false, fail), 'migrate must be true or false, got 1');
    ruleFails(() => booleanOption(() => true, 'migrate', false, fail), 'migrate must be true or false, got a function');
  });

  it('describe shows a value as the messages do', () => {
    assert.equal(describeValue('x'), "'x'");
    assert.equal(describeValue(12n), '12n');
    assert.equal(
      describeValue(() => 1),
      'a function',
    );
    assert.equal(describeValue([1]), 'an array');
    assert.equal(describeValue(new Map()), 'a Map');
    assert.equal(describeValue(new Date(0)), 'a Date');
    assert.equal(describeValue(Object.create(null)), 'an object');
    assert.equal(describeValue(null), 'null');
    assert.equal(describeValue(undefined), 'undefined');
    assert.equal(describeValue(NaN), 'NaN');
    assert.equal(describeValue(false), 'false');
  });
});

describe('resolveWorkerOptions', () => {
  const configFails = (options: object, message: string) =>
    throwsExactly(
      () => resolveWorkerOptions('HashWorker', options as any),
      ObanConfigError,
      `@Worker() on HashWorker: ${message}`,
    );

  it('fills the defaults, naming the worker after its class', () => {
    assert.equal(DEFAULT_QUEUE, 'default');
    assert.equal(DEFAULT_MAX_ATTEMPTS, 20);
    assert.deepEqual(resolveWorkerOptions('HashWorker'), {
      name: 'HashWorker',
      queue: 'default',
      maxAttempts: 20,
      priority: 0,
      timeout: undefined,
      backoff: undefined,
      tags: [],
      cpu: false,
      unique: undefined,
    });
  });

  it('keeps every option it is given', () => {
    const backoff = () => 7;
    assert.deepEqual(
      resolveWorkerOptions('HashWorker', {
        name: 'hash.v1',
        queue: 'cpu',
        maxAttempts: 3,
        priority: 9,
        timeout: 250,
        backoff,
        tags: ['heavy'],
        cpu: true,
      }),
      {
        name: 'hash.v1',
        queue: 'cpu',
        maxAttempts: 3,
        priority: 9,
        timeout: 250,
        backoff,
        tags: ['heavy'],
        cpu: true,
        unique: undefined,
      },
    );
    assert.deepEqual(resolveWorkerOptions('HashWorker', { unique: true }).unique, {
      fields: ['worker', 'queue', 'args'],
      keys: null,
      period: 60,
      states: JOB_STATES.filter((s) => !['discarded', 'cancelled'].includes(s)),
      timestamp: 'insertedAt',
      replace: null,
    });
    assert.equal(resolveWorkerOptions('HashWorker', { backoff: 0 }).backoff, 0);
    assert.equal(resolveWorkerOptions('HashWorker', { backoff: 12.5 }).backoff, 12.5);
    assert.equal(resolveWorkerOptions('HashWorker', { name: 'n'.repeat(127) }).name, 'n'.repeat(127));
  });

  it('rejects an unknown option, listing the known ones', () => {
    configFails(
      { retries: 3 },
      "unknown option 'retries' (known: name, queue, maxAttempts, priority, timeout, backoff, tags, cpu, unique)",
    );
  });

  it('rejects a name that is empty, blank, too long or not a string', () => {
    const message = (shown: string) => `name must be a non-empty string under 128 characters, got ${shown}`;
    configFails({ name: '' }, message('""'));
    configFails({ name: '   ' }, message('"   "'));
    configFails({ name: 'n'.repeat(128) }, message(`"${'n'.repeat(128)}"`));
    configFails({ name: 42 }, message('42'));
  });

  it('rejects a timeout that is not a number of ms > 0', () => {
    for (const timeout of [0, -5, NaN, Infinity, '100']) {
      configFails({ timeout }, `timeout must be a number of milliseconds > 0, got ${String(timeout)}`);
    }
  });

  it('rejects a backoff that is neither seconds >= 0 nor a function', () => {
    for (const backoff of [-1, NaN, Infinity, '5', null]) {
      configFails(
        { backoff },
        `backoff must be seconds (a number >= 0) or a function of the job, got ${String(backoff)}`,
      );
    }
  });

  it('rejects a cpu flag that is not a boolean', () => {
    configFails({ cpu: 'yes' }, 'cpu must be true or false, got yes');
    configFails({ cpu: 1 }, 'cpu must be true or false, got 1');
  });

  it('checks queue, maxAttempts, priority and tags with the shared rules, naming the class', () => {
    configFails(
      { queue: 'bad queue' },
      `queue name "bad queue" is invalid; use 1-127 letters, digits, '_', '-', '.' or ':'`,
    );
    configFails({ maxAttempts: 0 }, 'maxAttempts must be an integer >= 1, got 0');
    configFails({ priority: 10 }, 'priority must be an integer from 0 (highest) to 9, got 10');
    configFails({ tags: 'heavy' }, 'tags must be an array of strings');
  });
});

describe('validateJob', () => {
  const declared: ResolvedWorkerRef = {
    name: 'HashWorker',
    metadata: resolveWorkerOptions('HashWorker', { queue: 'cpu', priority: 2, maxAttempts: 5, tags: ['hash', 'cpu'] }),
  };
  const nameOnly: ResolvedWorkerRef = { name: 'RemoteWorker' };
  const where = 'insert(HashWorker)';
  const validationFails = (run: () => unknown, message: string) =>
    throwsExactly(run, ObanValidationError, `${where}: ${message}`);
  const job = (args: unknown, options: JobOptions = {}, worker = declared) => validateJob(worker, args, options, where);

  it("takes queue, priority, attempts and tags from the worker's declaration", () => {
    const args = { rounds: 3 };
    const row = job(args);
    assert.deepEqual(row, {
      queue: 'cpu',
      worker: 'HashWorker',
      args: { rounds: 3 },
      meta: {},
      tags: ['hash', 'cpu'],
      max_attempts: 5,
      priority: 2,
    });
    assert.equal(row.args, args, 'the args object itself, not a copy');
    assert.equal('scheduled_at' in row, false);
    assert.equal('schedule_in' in row, false);
  });

  it("lets the job's options override the declaration, adding tags once, trimmed, without blanks", () => {
    const row = job(
      { rounds: 1 },
      {
        queue: 'urgent',
        priority: 0,
        maxAttempts: 1,
        tags: [' hash ', 'extra', '', '  ', 'extra'],
        meta: { by: 'test' },
      },
    );
    assert.equal(row.queue, 'urgent');
    assert.equal(row.priority, 0);
    assert.equal(row.max_attempts, 1);
    assert.deepEqual(row.tags, ['hash', 'cpu', 'extra']);
    assert.deepEqual(row.meta, { by: 'test' });
  });

  it('enqueues for a worker known only by name when a queue is given, with the defaults', () => {
    assert.deepEqual(job({}, { queue: 'remote' }, nameOnly), {
      queue: 'remote',
      worker: 'RemoteWorker',
      args: {},
      meta: {},
      tags: [],
      max_attempts: 20,
      priority: 0,
    });
  });

  it('rejects a worker known only by name without a queue', () => {
    validationFails(
      () => job({}, {}, nameOnly),
      "unknown worker 'RemoteWorker': no @Worker class with that name is registered in this app. " +
        "Register the class in a module's providers, or pass { queue } to enqueue for a worker that runs on other nodes",
    );
  });

  it('rejects an unknown option, listing the known ones', () => {
    validationFails(
      () => job({}, { queu: 'x' } as JobOptions),
      "unknown option 'queu' (known: queue, priority, scheduledAt, scheduleIn, maxAttempts, tags, meta, unique, manager)",
    );
  });

  it('rejects args that are not a plain object, saying what they are', () => {
    const message = (got: string) => `args must be a plain object of JSON values, got ${got}`;
    validationFails(() => job(null), message('null'));
    validationFails(() => job([1]), message('an array'));
    validationFails(() => job('x'), message('string'));
    validationFails(() => job(undefined), message('undefined'));
    validationFails(() => job(new Map()), message('object'));
  });

  it('rejects args and meta that JSON would change, naming the path', () => {
    validationFails(
      () => job({ id: 7n }),
      'args.id is a BigInt (7n); JSON has no BigInt: pass it as a string or number',
    );
    validationFails(() => job({ list: [1, NaN] }), 'args.list[1] is NaN, which JSON cannot represent');
    validationFails(
      () => job({}, { meta: { trace: () => 1 } }),
      'meta.trace is a function; only JSON data can be stored',
    );
    validationFails(() => job({}, { meta: ['a'] as any }), 'meta must be a plain object of JSON values');
  });

  it('checks queue, priority, maxAttempts and tags with the shared rules', () => {
    validationFails(
      () => job({}, { queue: 'no spaces' }),
      `queue name "no spaces" is invalid; use 1-127 letters, digits, '_', '-', '.' or ':'`,
    );
    validationFails(() => job({}, { priority: 10 }), 'priority must be an integer from 0 (highest) to 9, got 10');
    validationFails(() => job({}, { maxAttempts: 0 }), 'maxAttempts must be an integer >= 1, got 0');
    validationFails(() => job({}, { tags: 'x' as any }), 'tags must be an array of strings');
  });

  it('turns scheduledAt into an ISO timestamp and keeps scheduleIn in seconds', () => {
    assert.equal(
      job({}, { scheduledAt: new Date(Date.UTC(2030, 0, 2, 3, 4, 5)) }).scheduled_at,
      '2030-01-02T03:04:05.000Z',
    );
    assert.equal(job({}, { scheduleIn: 90 }).schedule_in, 90);
    assert.equal(job({}, { scheduleIn: 0 }).schedule_in, 0);
    assert.equal(job({}, { scheduleIn: 1.5 }).schedule_in, 1.5);
  });

  it('rejects a bad scheduledAt or scheduleIn, and both at once', () => {
    validationFails(
      () => job({}, { scheduledAt: new Date(0), scheduleIn: 5 }),
      'give scheduledAt or scheduleIn, not both',
    );
    validationFails(
      () => job({}, { scheduledAt: new Date('nope') }),
      'scheduledAt must be a valid Date, got Invalid Date',
    );
    validationFails(
      () => job({}, { scheduledAt: '2030-01-01' as any }),
      'scheduledAt must be a valid Date, got 2030-01-01',
    );
    // Beyond 100 years the timestamp would overflow in Postgres: refused here, by name.
    for (const scheduleIn of [-1, NaN, Infinity, '5', 1e300]) {
      validationFails(
        () => job({}, { scheduleIn: scheduleIn as any }),
        `scheduleIn must be a number of seconds from 0 to 3155760000 (100 years), got ${String(scheduleIn)}`,
      );
    }
  });
});
