import { MAX_TIMER_MS } from './rules';

type Fail = (message: string) => never;

/** A number option: `fallback` when unset, else finite and >= `min`; `unit` names it in the message. */
export function numberOption(value: unknown, name: string, fallback: number, min: number, fail: Fail, unit?: string) {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    fail(`${name} must be a number${unit ? ` of ${unit}` : ''} >= ${min}, got ${describe(value)}`);
  }
  return value as number;
}

/** A duration a Node timer waits for: milliseconds from `min` to 2^31-1 (a longer setTimeout fires at once). */
export function millisecondsOption(value: unknown, name: string, fallback: number, min: number, fail: Fail): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= min && value <= MAX_TIMER_MS)) {
    fail(
      `${name} must be a number of milliseconds from ${min} to ${MAX_TIMER_MS} (the longest a Node timer waits), ` +
        `got ${describe(value)}`,
    );
  }
  return value as number;
}

/** A boolean option: `fallback` when unset. */
export function booleanOption(value: unknown, name: string, fallback: boolean, fail: Fail): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail(`${name} must be true or false, got ${describe(value)}`);
  return value as boolean;
}

/** A whole-number option: `fallback` when unset, else an integer >= `min`. */
export function integerOption(value: unknown, name: string, fallback: number, min: number, fail: Fail): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    fail(`${name} must be a whole number >= ${min}, got ${describe(value)}`);
  }
  return value as number;
}

/** A value as messages show it. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return `a function`;
  if (Array.isArray(value)) return `an array`;
  if (typeof value === 'object' && value !== null) {
    const name = value.constructor?.name;
    return name && name !== 'Object' ? `a ${name}` : 'an object';
  }
  return String(value);
}
