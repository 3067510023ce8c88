import type { QueueLimits, QueueLimitsChange, QueuePartition, RateLimit } from '../store/limited-claim';
import { describe } from './option-checks';
import { knownKeys } from './rules';

type Fail = (message: string) => never;

/** The keys of a queue's options that are limits across nodes. */
export const LIMIT_KEYS = ['globalLimit', 'rateLimit', 'partition'] as const;

/** The longest rate window: a day. */
const MAX_PERIOD_SECONDS = 86_400;

/**
 * A queue's `globalLimit`, `rateLimit` and `partition` options, checked;
 * `where` names the queue in messages (`queues.media`).
 */
export function queueLimits(value: Record<string, unknown>, where: string, fail: Fail): QueueLimits {
  const limits: QueueLimits = {};
  if (value.globalLimit !== undefined) limits.globalLimit = globalLimit(value.globalLimit, where, fail);
  if (value.rateLimit !== undefined) limits.rateLimit = rateLimit(value.rateLimit, where, fail);
  if (value.partition !== undefined) limits.partition = partition(value.partition, where, fail);
  if (limits.partition && limits.globalLimit === undefined && limits.rateLimit === undefined) {
    fail(`${where}.partition applies globalLimit or rateLimit per partition, and ${where} has neither`);
  }
  return limits;
}

/**
 * A `scaleQueue` change of limits: each key as in queueLimits, null removes
 * it. A partition may come alone: it applies to the limits the queue has.
 */
export function limitsChange(value: Record<string, unknown>, where: string, fail: Fail): QueueLimitsChange {
  const change: QueueLimitsChange = {};
  const { globalLimit: global, rateLimit: rate, partition: part } = value;
  if (global !== undefined) change.globalLimit = global === null ? null : globalLimit(global, where, fail);
  if (rate !== undefined) change.rateLimit = rate === null ? null : rateLimit(rate, where, fail);
  if (part !== undefined) change.partition = part === null ? null : partition(part, where, fail);
  return change;
}

/**
 * Limits changed at run time as another node wrote them (a signal, a row of
 * oban_queues): checked as scaleQueue checks them; an Error if they are not
 * limits this version knows. Null reads as no change.
 */
export function readLimitsChange(value: unknown, where: string): QueueLimitsChange | Error {
  if (value === null || value === undefined) return {};
  try {
    if (typeof value !== 'object' || Array.isArray(value)) throw new Error(`${where} must be an object`);
    const fail = (message: string): never => {
      throw new Error(message);
    };
    knownKeys(value, LIMIT_KEYS, fail, { within: where });
    return limitsChange(value as Record<string, unknown>, where, fail);
  } catch (error) {
    return error as Error;
  }
}

function globalLimit(value: unknown, where: string, fail: Fail): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    fail(
      `${where}.globalLimit must be a whole number >= 1 (jobs running at once on all nodes), got ${describe(value)}`,
    );
  }
  return value as number;
}

function rateLimit(value: unknown, where: string, fail: Fail): RateLimit {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(`${where}.rateLimit must be an object like { allowed: 60, period: 60 }, got ${describe(value)}`);
  }
  const { allowed, period, ...rest } = value as Record<string, unknown>;
  knownKeys(rest, ['allowed', 'period'], fail, { within: `${where}.rateLimit` });
  if (typeof allowed !== 'number' || !Number.isInteger(allowed) || allowed < 1) {
    fail(`${where}.rateLimit.allowed must be a whole number >= 1 (starts per period), got ${describe(allowed)}`);
  }
  if (typeof period !== 'number' || !Number.isInteger(period) || period < 1 || period > MAX_PERIOD_SECONDS) {
    fail(
      `${where}.rateLimit.period must be a whole number of seconds from 1 to ${MAX_PERIOD_SECONDS}, got ${describe(period)}`,
    );
  }
  return { allowed: allowed as number, period: period as number };
}

function partition(value: unknown, where: string, fail: Fail): QueuePartition {
  const form = `{ by: 'worker' }, { args: ['tenant'] } or { meta: ['account'] }`;
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.keys(value).length !== 1) {
    fail(`${where}.partition must be one of ${form}, got ${describe(value)}`);
  }
  const [[kind, keys]] = Object.entries(value as Record<string, unknown>);
  if (kind === 'by') {
    if (keys !== 'worker') fail(`${where}.partition.by must be 'worker', got ${describe(keys)}`);
    return { by: 'worker' };
  }
  if (kind !== 'args' && kind !== 'meta') fail(`${where}.partition must be one of ${form}; unknown key '${kind}'`);
  const list = keys as unknown[];
  if (
    !Array.isArray(list) ||
    list.length === 0 ||
    list.some((key) => typeof key !== 'string' || key === '') ||
    new Set(list).size !== list.length
  ) {
    fail(`${where}.partition.${kind} must be a non-empty array of distinct key names, got ${describe(keys)}`);
  }
  return kind === 'args' ? { args: [...(list as string[])] } : { meta: [...(list as string[])] };
}

/**
 * The limits of the string form, each an extra `:`-separated part after the
 * limit: `global=20`, `rate=60/60` (allowed/period in seconds),
 * `partition=worker`, `partition=args.tenant` (more keys: `args.tenant+args.region`).
 */
export function parseLimitParts(parts: string[], where: string, fail: Fail): QueueLimits {
  const value: Record<string, unknown> = {};
  const integer = (text: string) => (/^\d+$/.test(text) ? Number(text) : text);
  for (const part of parts) {
    const match = /^(global|rate|partition)=(.+)$/.exec(part.trim());
    if (!match) {
      fail(
        `${where}: cannot parse '${part}'; expected global=N, rate=ALLOWED/PERIOD or partition=worker|args.KEY|meta.KEY`,
      );
    }
    const [, name, text] = match!;
    const key = name === 'global' ? 'globalLimit' : name === 'rate' ? 'rateLimit' : 'partition';
    if (value[key] !== undefined) fail(`${where}: '${name}=' is given twice`);
    if (name === 'global') value.globalLimit = integer(text);
    else if (name === 'rate') {
      const rate = /^(\d+)\/(\d+)$/.exec(text);
      if (!rate) fail(`${where}: rate=${text} must be ALLOWED/PERIOD in whole numbers, e.g. rate=60/60`);
      value.rateLimit = { allowed: Number(rate![1]), period: Number(rate![2]) };
    } else if (text === 'worker') value.partition = { by: 'worker' };
    else {
      const keys = text.split('+').map((item) => /^(args|meta)\.(.+)$/.exec(item));
      const kinds = new Set(keys.map((k) => k?.[1]));
      if (keys.some((k) => !k) || kinds.size !== 1) {
        fail(`${where}: partition=${text} must be worker, or keys of one of args or meta (args.tenant+args.region)`);
      }
      value.partition = { [keys[0]![1]]: keys.map((k) => k![2]) };
    }
  }
  return queueLimits(value, where, fail);
}
