import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig } from '../../lib/config/config';

describe('connection options', () => {
  it('default to 15 s per statement, 5 s to connect, a check every 5 s', () => {
    const config = resolveConfig({}, {});
    assert.deepEqual(
      [config.statementTimeout, config.connectTimeout, config.reconcileInterval],
      [15_000, 5_000, 5_000],
    );
  });

  it('refuse bad values with a message naming the option', () => {
    for (const name of ['statementTimeout', 'connectTimeout', 'reconcileInterval'] as const) {
      for (const bad of [0, -1, 'soon', Infinity]) {
        assert.throws(
          () => resolveConfig({ [name]: bad }, {}),
          new RegExp(`ObanModule: ${name} must be a number of milliseconds from 10 to`),
          `${name}: ${String(bad)}`,
        );
      }
      assert.equal(resolveConfig({ [name]: 250 }, {})[name], 250);
    }
  });
});
