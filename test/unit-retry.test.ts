import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Logger } from '@nestjs/common';
import { DEFAULT_RETRY, Retry, type RetryPolicy } from '../lib/util/retry';

/** A logger that keeps each line as "level: message". */
function fakeLogger() {
  const lines: string[] = [];
  const logger = {
    log: (message: string) => lines.push(`log: ${message}`),
    warn: (message: string) => lines.push(`warn: ${message}`),
    error: (message: string) => lines.push(`error: ${message}`),
  };
  return { lines, logger: logger as unknown as Logger };
}

const policy: RetryPolicy = { baseMs: 10, maxMs: 50, reportEvery: 3 };

describe('Retry', () => {
  it('waits nothing before a failure', () => {
    const { logger } = fakeLogger();
    const retry = new Retry('staging', logger);
    assert.equal(retry.delay(), 0);
    assert.equal(retry.failures, 0);
  });

  it('doubles the delay with each failure in a row, up to the cap', () => {
    const { logger } = fakeLogger();
    const retry = new Retry('staging', logger, policy);
    const delays = Array.from({ length: 6 }, () => retry.failed(new Error('down')));
    assert.deepEqual(delays, [10, 20, 40, 50, 50, 50]);
    assert.equal(retry.failures, 6);
    assert.equal(retry.delay(), 50, 'delay() repeats the current wait');
  });

  it('by default starts at 100 ms and settles at 5 s, even after a long outage', () => {
    assert.deepEqual(DEFAULT_RETRY, { baseMs: 100, maxMs: 5_000, reportEvery: 20 });
    const { logger } = fakeLogger();
    const retry = new Retry('claiming jobs', logger);
    const delays = Array.from({ length: 8 }, () => retry.failed('x'));
    assert.deepEqual(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    for (let i = 0; i < 2_000; i++) retry.failed('x');
    assert.equal(retry.delay(), 5_000);
  });

  it('logs the first failure, then every Nth in a row', () => {
    const { lines, logger } = fakeLogger();
    const retry = new Retry("claiming jobs of queue 'mail'", logger, policy);
    for (let i = 0; i < 7; i++) retry.failed(new Error(`connection refused #${i + 1}`));
    assert.deepEqual(lines, [
      "error: claiming jobs of queue 'mail' failed, will retry: connection refused #1",
      "error: claiming jobs of queue 'mail' failed (3 times in a row), will retry: connection refused #3",
      "error: claiming jobs of queue 'mail' failed (6 times in a row), will retry: connection refused #6",
    ]);
  });

  it('logs at warn when asked, and shows a thrown non-Error as text', () => {
    const { lines, logger } = fakeLogger();
    const retry = new Retry('heartbeat', logger, policy);
    retry.failed({ toString: () => 'odd thing' }, 'warn');
    retry.failed('socket closed', 'warn');
    retry.failed(42, 'warn');
    assert.deepEqual(lines, [
      'warn: heartbeat failed, will retry: odd thing',
      'warn: heartbeat failed (3 times in a row), will retry: 42',
    ]);
  });

  it('logs the recovery after failures and starts over', () => {
    const { lines, logger } = fakeLogger();
    const retry = new Retry('LISTEN connection', logger, policy);
    retry.failed(new Error('a'));
    retry.failed(new Error('b'));
    retry.succeeded();
    assert.equal(retry.failures, 0);
    assert.equal(retry.delay(), 0);
    assert.equal(retry.failed(new Error('c')), 10, 'the delay starts again from baseMs');
    assert.deepEqual(lines, [
      'error: LISTEN connection failed, will retry: a',
      'log: LISTEN connection: working again after 2 failure(s)',
      'error: LISTEN connection failed, will retry: c',
    ]);
  });

  it('logs nothing on a success that follows a success', () => {
    const { lines, logger } = fakeLogger();
    const retry = new Retry('cron', logger, policy);
    retry.succeeded();
    retry.succeeded();
    assert.deepEqual(lines, []);
  });
});
