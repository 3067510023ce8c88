/**
 * Checks that a value survives JSON.stringify unchanged in meaning and that
 * Postgres can store the result (jsonb and text take no NUL character and no
 * lone surrogate), and says where it does not. JSON.stringify itself silently
 * turns NaN into null, a Map into {} and drops functions; a job's args must
 * never lose data that way.
 *
 * Returns null when the value is fine, else a message naming the path.
 */
export function findNonJson(value: unknown, path: string): string | null {
  return check(value, path, new Set());
}

function check(value: unknown, path: string, seen: Set<object>): string | null {
  switch (typeof value) {
    case 'string':
      return findUnstorable(value, path);
    case 'boolean':
      return null;
    case 'number':
      return Number.isFinite(value) ? null : `${path} is ${value}, which JSON cannot represent`;
    case 'bigint':
      return `${path} is a BigInt (${value}n); JSON has no BigInt: pass it as a string or number`;
    case 'function':
      return `${path} is a function; only JSON data can be stored`;
    case 'symbol':
      return `${path} is a Symbol; only JSON data can be stored`;
    case 'undefined':
      return null; // dropped from objects by JSON, as callers expect
  }
  if (value === null) return null;
  const obj = value as object;
  if (typeof (obj as any).toJSON === 'function') return null; // Date, Buffer, ...
  if (obj instanceof Map || obj instanceof Set || obj instanceof WeakMap || obj instanceof WeakSet) {
    return `${path} is a ${obj.constructor.name}, which JSON turns into {}: convert it to an object or array`;
  }
  if (obj instanceof RegExp) return `${path} is a RegExp, which JSON turns into {}`;
  if (obj instanceof Promise) return `${path} is a Promise; await it before storing the value`;
  if (seen.has(obj)) return `${path} refers back to itself (a cycle); JSON cannot represent cycles`;
  seen.add(obj);
  try {
    if (Array.isArray(obj)) {
      for (let i = 0; i < obj.length; i++) {
        const problem = check(obj[i], `${path}[${i}]`, seen);
        if (problem) return problem;
      }
      return null;
    }
    for (const key of Object.keys(obj)) {
      const problem = findUnstorable(key, `a key of ${path}`) ?? check((obj as any)[key], `${path}.${key}`, seen);
      if (problem) return problem;
    }
    return null;
  } finally {
    seen.delete(obj);
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const SUSPECT = /[\u0000\uD800-\uDFFF]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const UNSTORABLE = new RegExp(`\u0000|${LONE_SURROGATE.source}`, 'g');

/** Why Postgres cannot store this string (a NUL, a lone surrogate), or null. */
export function findUnstorable(text: string, path: string): string | null {
  if (!SUSPECT.test(text)) return null; // the common case, one cheap scan
  if (text.includes('\u0000')) return `${path} holds a \\u0000 (NUL) character, which Postgres cannot store`;
  const lone = LONE_SURROGATE.exec(text);
  if (lone) {
    const code = lone[0].charCodeAt(0).toString(16).toUpperCase();
    return `${path} holds a lone surrogate (\\u${code}), which is not valid Unicode and Postgres cannot store`;
  }
  return null;
}

/** The text with each NUL and lone surrogate replaced by U+FFFD, so Postgres can store it (error messages). */
export function storableText(text: string): string {
  return SUSPECT.test(text) ? text.replace(UNSTORABLE, '\uFFFD') : text;
}
