import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { findNonJson, isPlainObject } from '../lib/json';

describe('findNonJson', () => {
  it('accepts JSON data, however deep', () => {
    assert.equal(findNonJson({ a: 'x', b: 1.5, c: -0, d: true, e: null, f: [1, [2, [3]]], g: {} }, 'args'), null);
    assert.equal(findNonJson({ deep: { deeper: [{ deepest: ['ok', 0, false] }] } }, 'args'), null);
    assert.equal(findNonJson([], 'args'), null);
    assert.equal(findNonJson('text', 'args'), null);
    assert.equal(findNonJson(null, 'args'), null);
    assert.equal(findNonJson(Object.create(null), 'args'), null);
  });

  it('accepts undefined fields, which JSON drops', () => {
    assert.equal(findNonJson({ a: undefined, b: 1 }, 'args'), null);
    assert.equal(findNonJson(undefined, 'result'), null);
  });

  it('accepts values with a toJSON of their own (Date, Buffer)', () => {
    assert.equal(findNonJson({ at: new Date(0), bytes: Buffer.from('hi') }, 'args'), null);
    assert.equal(findNonJson({ custom: { toJSON: () => 'fine', hidden: 1n } }, 'args'), null);
  });

  it('names a BigInt with its value', () => {
    assert.equal(
      findNonJson({ id: 10n }, 'args'),
      'args.id is a BigInt (10n); JSON has no BigInt: pass it as a string or number',
    );
    assert.equal(
      findNonJson(-3n, 'result'),
      'result is a BigInt (-3n); JSON has no BigInt: pass it as a string or number',
    );
  });

  it('names NaN and the infinities, which JSON turns into null', () => {
    assert.equal(findNonJson({ ratio: NaN }, 'args'), 'args.ratio is NaN, which JSON cannot represent');
    assert.equal(findNonJson({ max: Infinity }, 'args'), 'args.max is Infinity, which JSON cannot represent');
    assert.equal(findNonJson([-Infinity], 'meta'), 'meta[0] is -Infinity, which JSON cannot represent');
  });

  it('names Map, Set, WeakMap and WeakSet, which JSON turns into {}', () => {
    const hint = 'which JSON turns into {}: convert it to an object or array';
    assert.equal(findNonJson({ byId: new Map([[1, 'a']]) }, 'args'), `args.byId is a Map, ${hint}`);
    assert.equal(findNonJson({ seen: new Set([1]) }, 'args'), `args.seen is a Set, ${hint}`);
    assert.equal(findNonJson({ cache: new WeakMap() }, 'args'), `args.cache is a WeakMap, ${hint}`);
    assert.equal(findNonJson({ refs: new WeakSet() }, 'args'), `args.refs is a WeakSet, ${hint}`);
    assert.equal(findNonJson(new Map(), 'args'), `args is a Map, ${hint}`, 'even an empty one');
  });

  it('names functions, symbols, regular expressions and promises', () => {
    assert.equal(findNonJson({ cb: () => 1 }, 'args'), 'args.cb is a function; only JSON data can be stored');
    assert.equal(
      findNonJson(function named() {}, 'result'),
      'result is a function; only JSON data can be stored',
    );
    assert.equal(findNonJson({ tag: Symbol('x') }, 'args'), 'args.tag is a Symbol; only JSON data can be stored');
    assert.equal(findNonJson({ re: /a+/ }, 'args'), 'args.re is a RegExp, which JSON turns into {}');
    const pending = Promise.resolve(1);
    assert.equal(
      findNonJson({ later: pending }, 'result'),
      'result.later is a Promise; await it before storing the value',
    );
  });

  it('gives the path through nested arrays and objects', () => {
    assert.equal(findNonJson({ a: [[1, [2, NaN]]] }, 'args'), 'args.a[0][1][1] is NaN, which JSON cannot represent');
    assert.equal(
      findNonJson({ users: [{ name: 'a' }, { name: 'b', id: 2n }] }, 'args'),
      'args.users[1].id is a BigInt (2n); JSON has no BigInt: pass it as a string or number',
    );
    assert.equal(
      findNonJson([[[new Set()]]], 'x'),
      'x[0][0][0] is a Set, which JSON turns into {}: convert it to an object or array',
    );
  });

  it('reports the first problem in key order', () => {
    assert.equal(
      findNonJson({ ok: 1, first: 1n, second: NaN }, 'args'),
      'args.first is a BigInt (1n); JSON has no BigInt: pass it as a string or number',
    );
    assert.equal(findNonJson([1, NaN, 2n], 'args'), 'args[1] is NaN, which JSON cannot represent');
  });

  it('names a cycle where it closes', () => {
    const node: Record<string, unknown> = { name: 'root' };
    node.self = node;
    assert.equal(
      findNonJson({ tree: node }, 'args'),
      'args.tree.self refers back to itself (a cycle); JSON cannot represent cycles',
    );
    const list: unknown[] = [1];
    list.push({ back: list });
    assert.equal(
      findNonJson(list, 'args'),
      'args[1].back refers back to itself (a cycle); JSON cannot represent cycles',
    );
  });

  it('accepts the same object twice when it is not a cycle', () => {
    const shared = { n: 1 };
    assert.equal(findNonJson({ a: shared, b: shared, list: [shared, shared] }, 'args'), null);
  });
});

describe('isPlainObject', () => {
  it('is true for object literals and null-prototype objects', () => {
    assert.equal(isPlainObject({}), true);
    assert.equal(isPlainObject({ a: 1 }), true);
    assert.equal(isPlainObject(Object.create(null)), true);
    assert.equal(isPlainObject(JSON.parse('{"a":[1]}')), true);
  });

  it('is false for arrays, null, primitives and instances of classes', () => {
    class Point {
      x = 1;
    }
    for (const value of [
      [],
      null,
      undefined,
      'x',
      1,
      true,
      1n,
      new Date(),
      new Map(),
      new Point(),
      Object.create({}),
      () => 1,
    ]) {
      assert.equal(isPlainObject(value), false, String(value));
    }
  });
});
