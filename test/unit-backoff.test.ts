import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { defaultBackoff } from '../lib/queue/backoff';

const noJitter = () => 0;
/** The largest value Math.random can return. */
const maxJitter = () => 1 - Number.EPSILON;

describe('defaultBackoff', () => {
  it('without jitter is 15 s plus 2^attempt', () => {
    assert.equal(defaultBackoff(1, 20, noJitter), 17);
    assert.equal(defaultBackoff(2, 20, noJitter), 19);
    assert.equal(defaultBackoff(5, 20, noJitter), 47);
    assert.equal(defaultBackoff(10, 20, noJitter), 1039);
    assert.equal(defaultBackoff(20, 20, noJitter), 15 + 2 ** 20);
  });

  it('never waits less than the 15 s floor, and grows with each attempt', () => {
    let previous = 0;
    for (let attempt = 1; attempt <= 20; attempt++) {
      const seconds = defaultBackoff(attempt, 20, noJitter);
      assert.ok(seconds > 15, `attempt ${attempt}: ${seconds}`);
      assert.ok(seconds > previous, `attempt ${attempt}: ${seconds} after ${previous}`);
      previous = seconds;
    }
  });

  it('adds at most 10% jitter, rounded down to whole seconds', () => {
    assert.equal(defaultBackoff(1, 20, maxJitter), 18); // 17 + floor(1.7)
    assert.equal(defaultBackoff(4, 20, maxJitter), 34); // 31 + floor(3.1)
    assert.equal(defaultBackoff(10, 20, maxJitter), 1142); // 1039 + floor(103.9)
    assert.equal(
      defaultBackoff(10, 20, () => 0.5),
      1090,
    ); // 1039 + floor(51.95)
    for (let attempt = 1; attempt <= 20; attempt++) {
      const base = 15 + 2 ** attempt;
      const seconds = defaultBackoff(attempt, 20, maxJitter);
      assert.ok(seconds >= base && seconds <= base * 1.1, `attempt ${attempt}: ${seconds} for base ${base}`);
      assert.ok(Number.isInteger(seconds), `attempt ${attempt}: ${seconds}`);
    }
  });

  it('uses Math.random when no random is given, staying inside the range', () => {
    for (let i = 0; i < 200; i++) {
      const seconds = defaultBackoff(6, 20);
      assert.ok(seconds >= 79 && seconds <= 79 + 7, `${seconds}`); // base 15 + 64 = 79, jitter < 7.9
    }
  });

  it('with maxAttempts > 20 spreads the attempts over the same 20 steps', () => {
    assert.equal(defaultBackoff(40, 40, noJitter), 15 + 2 ** 20, 'the last attempt waits as long as attempt 20 of 20');
    assert.equal(defaultBackoff(20, 40, noJitter), 15 + 2 ** 10, 'half way is step 10');
    assert.equal(defaultBackoff(3, 40, noJitter), 15 + 2 ** 2, 'rounds 1.5 to 2');
    assert.equal(defaultBackoff(1, 100, noJitter), 15 + 1, 'rounds 0.2 to 0: only the floor and 2^0');
    assert.equal(defaultBackoff(50, 100, noJitter), 15 + 2 ** 10);
    assert.equal(defaultBackoff(21, 21, noJitter), 15 + 2 ** 20);
  });

  it('does not clamp at exactly 20 attempts, and never goes past 2^20', () => {
    assert.equal(defaultBackoff(19, 20, noJitter), 15 + 2 ** 19);
    assert.equal(defaultBackoff(25, 20, noJitter), 15 + 2 ** 20);
    assert.equal(defaultBackoff(19, 21, noJitter), 15 + 2 ** 18, '19/21*20 = 18.1 rounds to 18');
  });
});
