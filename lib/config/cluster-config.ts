import { ObanConfigError } from '../errors';
import { isPlainObject } from '../json';
import { type CronSchedule, checkTimezone, parseCron } from '../util/cron-expression';
import type { JobOptions } from '../validation/job-options';
import { booleanOption, integerOption, millisecondsOption, numberOption } from '../validation/option-checks';
import { knownKeys } from '../validation/rules';
import { getWorkerMetadata } from '../worker/worker.decorator';
import type { WorkerClass } from '../worker/worker.interface';
import type { ClusterOptions, CronEntry } from './cluster-options';

export interface PrunerConfig {
  /** Seconds. */
  maxAge: number;
  /** Milliseconds. */
  interval: number;
  limit: number;
}

/** A crontab entry with its expression parsed; the worker is resolved when the node starts. */
export interface CronConfig {
  /** Position in `crontab`, for messages. */
  index: number;
  schedule: CronSchedule;
  worker: WorkerClass | string;
  args: Record<string, unknown>;
  opts: JobOptions;
  /** Explicit name, or undefined to derive one from the worker name. */
  name: string | undefined;
}

export interface ClusterConfig {
  heartbeatInterval: number;
  nodeTtl: number;
  leaderTtl: number;
  leader: boolean;
  pruner: PrunerConfig | false;
  crontab: CronConfig[];
  timezone: string;
}

export const CLUSTER_OPTION_KEYS: ReadonlyArray<keyof ClusterOptions> = [
  'heartbeatInterval',
  'nodeTtl',
  'leaderTtl',
  'leader',
  'pruner',
  'crontab',
  'timezone',
];

const DAY = 24 * 60 * 60;

/** Validates the cluster options; every message names the option and says what to give. */
export function resolveClusterConfig(options: ClusterOptions): ClusterConfig {
  const fail = (message: string): never => {
    throw new ObanConfigError(`ObanModule: ${message}`);
  };
  const heartbeatInterval = millisecondsOption(options.heartbeatInterval, 'heartbeatInterval', 1_000, 10, fail);
  const nodeTtl = millisecondsOption(options.nodeTtl, 'nodeTtl', 10_000, 1, fail);
  const leaderTtl = millisecondsOption(options.leaderTtl, 'leaderTtl', 5_000, 1, fail);
  // A TTL shorter than two beats would expire between two healthy heartbeats.
  if (nodeTtl < 2 * heartbeatInterval) {
    fail(`nodeTtl (${nodeTtl} ms) must be at least twice heartbeatInterval (${heartbeatInterval} ms)`);
  }
  if (leaderTtl < 2 * heartbeatInterval) {
    fail(`leaderTtl (${leaderTtl} ms) must be at least twice heartbeatInterval (${heartbeatInterval} ms)`);
  }
  const timezone = checkTimezone(options.timezone ?? 'Etc/UTC', 'ObanModule: timezone');
  return {
    heartbeatInterval,
    nodeTtl,
    leaderTtl,
    leader: booleanOption(options.leader, 'leader', true, fail),
    pruner: resolvePruner(options.pruner, fail),
    crontab: resolveCrontab(options.crontab, timezone, fail),
    timezone,
  };
}

function resolvePruner(value: unknown, fail: (m: string) => never): PrunerConfig | false {
  if (value === false) return false;
  if (value === undefined) value = {};
  if (!isPlainObject(value)) fail(`pruner must be false or { maxAge?, interval?, limit? }, got ${String(value)}`);
  const p = value as Record<string, unknown>;
  knownKeys(p, ['maxAge', 'interval', 'limit'], fail, { within: 'pruner' });
  return {
    maxAge: numberOption(p.maxAge, 'pruner.maxAge (seconds)', 7 * DAY, 0, fail),
    interval: millisecondsOption(p.interval, 'pruner.interval', 30_000, 10, fail),
    limit: integerOption(p.limit, 'pruner.limit', 10_000, 1, fail),
  };
}

function resolveCrontab(value: unknown, timezone: string, fail: (m: string) => never): CronConfig[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) fail(`crontab must be an array of { cron, worker, args?, opts? }`);
  const known = new Set(['cron', 'worker', 'args', 'opts', 'timezone', 'name']);
  return (value as unknown[]).map((raw, index) => {
    const where = `ObanModule: crontab[${index}]`;
    if (!isPlainObject(raw)) fail(`crontab[${index}] must be an object { cron, worker, args?, opts? }`);
    const entry = raw as unknown as CronEntry;
    knownKeys(entry, known, fail, { what: 'key', within: `crontab[${index}]` });
    const zone = entry.timezone === undefined ? timezone : checkTimezone(entry.timezone, `${where}.timezone`);
    const schedule = parseCron(entry.cron, zone, where);
    if (typeof entry.worker !== 'function' && (typeof entry.worker !== 'string' || entry.worker === '')) {
      fail(`crontab[${index}] ('${schedule.expression}'): worker must be a @Worker class or a worker name`);
    }
    if (typeof entry.worker === 'function' && !getWorkerMetadata(entry.worker)) {
      fail(
        `crontab[${index}] ('${schedule.expression}'): ${entry.worker.name || 'the class'} is not a worker; ` +
          `decorate it with @Worker()`,
      );
    }
    if (entry.args !== undefined && !isPlainObject(entry.args)) {
      fail(`crontab[${index}] ('${schedule.expression}'): args must be a plain object of JSON values`);
    }
    if (entry.opts !== undefined && !isPlainObject(entry.opts)) {
      fail(`crontab[${index}] ('${schedule.expression}'): opts must be an object of job options`);
    }
    if (entry.name !== undefined && (typeof entry.name !== 'string' || entry.name.trim() === '')) {
      fail(`crontab[${index}] ('${schedule.expression}'): name must be a non-empty string`);
    }
    return {
      index,
      schedule,
      worker: entry.worker,
      args: entry.args ?? {},
      opts: entry.opts ?? {},
      name: entry.name,
    };
  });
}
