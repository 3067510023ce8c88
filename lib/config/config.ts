import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import { ObanConfigError } from '../errors';
import { OBAN_LOG_LEVELS, ObanLogger, type ObanLogLevel } from '../events/oban-logger';
import { booleanOption, describe, integerOption, millisecondsOption } from '../validation/option-checks';
import { DEFAULT_DATABASE_TIMEOUTS } from '../db/pg-database';
import { resolveDataDir } from '../db/pglite-instance';
import { knownKeys, queueName } from '../validation/rules';
import { CLUSTER_OPTION_KEYS, type ClusterConfig, resolveClusterConfig } from './cluster-config';
import type { ObanModuleOptions, QueueOption, TestingMode } from './options';
import { withLaunchOverrides } from './launch-overrides';
import type { QueueLimits } from '../store/limited-claim';
import { LIMIT_KEYS, parseLimitParts, queueLimits } from '../validation/limit-options';

export interface QueueConfig {
  name: string;
  limit: number;
  paused: boolean;
  /** Limits across every node (globalLimit, rateLimit, partition); unset: none. */
  limits?: QueueLimits;
}

/** Module options after defaults, environment overrides and validation. */
export interface ObanConfig {
  connection: ObanModuleOptions['connection'];
  prefix: string;
  node: string;
  queues: QueueConfig[];
  processes: number;
  processExecArgv: string[];
  /** The first worker process's debugger port, or undefined (`processInspect`). */
  processInspectPort: number | undefined;
  /** Names of global modules the worker processes leave out (`processExclude`). */
  processExclude: string[];
  migrate: boolean;
  shutdownGracePeriod: number;
  stageInterval: number;
  poolSize: number;
  /** Behind a pooler in transaction mode (`pooler: 'transaction'`), and the direct URL for sessions if given. */
  pooler: { direct: string | undefined } | undefined;
  /** ms a statement may run, and to get a connection (see DatabaseTimeouts). */
  statementTimeout: number;
  connectTimeout: number;
  /** ms between this node's checks of its queues and jobs against the database (and pings of LISTEN). */
  reconcileInterval: number;
  maxResultBytes: number;
  testing: TestingMode;
  /** The embedded PGlite data dir (absolute, or memory://), used when `connection` is unset. */
  pgliteDir: string;
  /** Heartbeat, leadership, pruner and cron settings. */
  cluster: ClusterConfig;
  /** nest-oban's own logger: `logger` (or Nest's) filtered by `logLevel`. */
  logger: ObanLogger;
  /** Write one line per job outcome. */
  logJobs: boolean;
}

const KNOWN_OPTIONS = new Set<keyof ObanModuleOptions>([
  'connection',
  'prefix',
  'queues',
  'processes',
  'processExecArgv',
  'processInspect',
  'processExclude',
  'node',
  'migrate',
  'shutdownGracePeriod',
  'stageInterval',
  'poolSize',
  'pooler',
  'directConnection',
  'statementTimeout',
  'connectTimeout',
  'reconcileInterval',
  'maxResultBytes',
  'testing',
  'pglite',
  'logger',
  'logLevel',
  'logJobs',
  ...CLUSTER_OPTION_KEYS,
]);

const TESTING_MODES: readonly TestingMode[] = ['disabled', 'inline', 'manual'];

export function resolveConfig(options: ObanModuleOptions, env: NodeJS.ProcessEnv = process.env): ObanConfig {
  const fail = (message: string): never => {
    throw new ObanConfigError(`ObanModule: ${message}`);
  };
  if (typeof options !== 'object' || options === null) fail(`options must be an object`);
  ({ options, env } = withLaunchOverrides(options, env));
  knownKeys(options, KNOWN_OPTIONS, fail);

  const connection = options.connection;
  if ('connection' in options && connection !== undefined) {
    const ok = typeof connection === 'string' ? /^postgres(ql)?:\/\//.test(connection) : isObject(connection);
    if (!ok) {
      fail(
        `connection must be a postgres:// URL, a TypeORM DataSource or a pg Pool, got ${describe(connection)}` +
          (connection === '' ? ' (is DATABASE_URL set to an empty string?)' : ''),
      );
    }
  }

  const prefix = options.prefix ?? 'public';
  if (typeof prefix !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]{0,40}$/.test(prefix)) {
    fail(`prefix must be a schema name of letters, digits and '_', got ${describe(prefix)}`);
  }

  const queues =
    env.OBAN_QUEUES !== undefined
      ? parseQueueString(env.OBAN_QUEUES, 'env OBAN_QUEUES')
      : typeof options.queues === 'string'
        ? parseQueueString(options.queues, 'queues')
        : parseQueueRecord(options.queues ?? {}, 'queues');

  return {
    connection,
    prefix,
    node: resolveNode(options.node, fail),
    queues,
    processes: resolveProcesses(options.processes, env, fail),
    processExecArgv: resolveExecArgv(options.processExecArgv, fail),
    processInspectPort: resolveInspectPort(options.processInspect, env, fail),
    processExclude: resolveExclude(options.processExclude, fail),
    migrate: booleanOption(options.migrate, 'migrate', false, fail),
    shutdownGracePeriod: millisecondsOption(options.shutdownGracePeriod, 'shutdownGracePeriod', 15_000, 0, fail),
    stageInterval: millisecondsOption(options.stageInterval, 'stageInterval', 1_000, 10, fail),
    poolSize: integerOption(options.poolSize, 'poolSize', 10, 2, fail),
    pooler: resolvePooler(options, fail),
    statementTimeout: millisecondsOption(
      options.statementTimeout,
      'statementTimeout',
      DEFAULT_DATABASE_TIMEOUTS.statement,
      10,
      fail,
    ),
    connectTimeout: millisecondsOption(
      options.connectTimeout,
      'connectTimeout',
      DEFAULT_DATABASE_TIMEOUTS.connect,
      10,
      fail,
    ),
    reconcileInterval: millisecondsOption(options.reconcileInterval, 'reconcileInterval', 5_000, 10, fail),
    maxResultBytes: integerOption(options.maxResultBytes, 'maxResultBytes', 8 * 1024 * 1024, 1, fail),
    testing: resolveTesting(options.testing, fail),
    pgliteDir: resolvePglite(options.pglite, env, fail),
    cluster: resolveClusterConfig(options),
    logger: resolveLogger(options.logger, options.logLevel, fail),
    logJobs: booleanOption(options.logJobs, 'logJobs', false, fail),
  };
}

function resolvePooler(options: ObanModuleOptions, fail: (m: string) => never): ObanConfig['pooler'] {
  const { pooler, directConnection, connection } = options;
  if (pooler !== undefined && pooler !== 'none' && pooler !== 'transaction') {
    fail(`pooler must be 'none' or 'transaction', got ${describe(pooler)}`);
  }
  if (pooler !== 'transaction') {
    if (directConnection !== undefined) fail(`directConnection is only used with pooler: 'transaction'`);
    return undefined;
  }
  if (connection === undefined)
    fail(`pooler: 'transaction' needs a Postgres connection (embedded PGlite has no pooler)`);
  if (
    directConnection !== undefined &&
    !(typeof directConnection === 'string' && /^postgres(ql)?:\/\//.test(directConnection))
  ) {
    fail(`directConnection must be a postgres:// URL straight to Postgres, got ${describe(directConnection)}`);
  }
  return { direct: directConnection };
}

function resolveLogger(logger: unknown, level: unknown, fail: (m: string) => never): ObanLogger {
  if (logger !== undefined && (!isObject(logger) || typeof (logger as { log?: unknown }).log !== 'function')) {
    fail(`logger must be a Nest LoggerService (an object with log, error and warn methods), got ${describe(logger)}`);
  }
  for (const method of ['error', 'warn'] as const) {
    if (logger !== undefined && typeof (logger as Record<string, unknown>)[method] !== 'function') {
      fail(`logger must be a Nest LoggerService: it has no ${method}() method`);
    }
  }
  if (level !== undefined && !OBAN_LOG_LEVELS.includes(level as ObanLogLevel)) {
    fail(`logLevel must be one of ${OBAN_LOG_LEVELS.map((l) => `'${l}'`).join(', ')}, got ${describe(level)}`);
  }
  return new ObanLogger(logger as ObanLogger | undefined, level as ObanLogLevel | undefined);
}

/** Parses `'default:10,heavy:16'`, with limits across nodes as more parts: `'media:10:global=20:rate=60/60'`. */
export function parseQueueString(input: string, source: string): QueueConfig[] {
  const queues: QueueConfig[] = [];
  const trimmed = input.trim();
  if (trimmed === '') return queues;
  for (const part of trimmed.split(',')) {
    const match = /^\s*([^:\s]+)\s*:\s*(\S+)\s*$/.exec(part);
    if (!match) {
      throw new ObanConfigError(
        `ObanModule: ${source}: cannot parse '${part.trim()}' in '${input}'; expected 'name:limit,name:limit' (e.g. 'default:10,heavy:4')`,
      );
    }
    const [limit, ...limitParts] = match[2].split(':');
    const queue = queueConfig(match[1], limit, source);
    if (limitParts.length > 0) {
      queue.limits = parseLimitParts(limitParts, `${source}: queue '${match[1]}'`, (message) => {
        throw new ObanConfigError(`ObanModule: ${message}`);
      });
    }
    queues.push(queue);
  }
  return dedupe(queues, source);
}

function parseQueueRecord(input: Record<string, QueueOption>, source: string): QueueConfig[] {
  if (!isObject(input) || Array.isArray(input)) {
    throw new ObanConfigError(
      `ObanModule: ${source} must be an object like { default: 10 } or a string like 'default:10'`,
    );
  }
  return Object.entries(input).map(([name, value]) => {
    if (isObject(value)) {
      const { limit, paused } = value as { limit: unknown; paused?: unknown };
      const fail = (message: string): never => {
        throw new ObanConfigError(`ObanModule: ${message}`);
      };
      knownKeys(value, ['limit', 'paused', ...LIMIT_KEYS], fail, { within: `${source}.${name}` });
      const queue = queueConfig(name, limit, source);
      const limits = queueLimits(value as Record<string, unknown>, `${source}.${name}`, fail);
      if (Object.keys(limits).length > 0) queue.limits = limits;
      if (paused !== undefined && typeof paused !== 'boolean') {
        throw new ObanConfigError(
          `ObanModule: ${source}.${name}.paused must be true or false, got ${describe(paused)}`,
        );
      }
      return { ...queue, paused: paused ?? false };
    }
    return queueConfig(name, value, source);
  });
}

function queueConfig(name: string, limit: unknown, source: string): QueueConfig {
  queueName(name, (message) => {
    throw new ObanConfigError(`ObanModule: ${source}: ${message}`);
  });
  const parsed = typeof limit === 'string' && /^-?\d+$/.test(limit) ? Number(limit) : limit;
  if (typeof parsed !== 'number' || !Number.isInteger(parsed) || parsed < 1) {
    throw new ObanConfigError(
      `ObanModule: ${source}: queue '${name}' has limit ${describe(limit)}; a limit must be a whole number >= 1`,
    );
  }
  return { name, limit: parsed, paused: false };
}

function dedupe(queues: QueueConfig[], source: string): QueueConfig[] {
  const seen = new Set<string>();
  for (const q of queues) {
    if (seen.has(q.name)) throw new ObanConfigError(`ObanModule: ${source}: queue '${q.name}' is listed twice`);
    seen.add(q.name);
  }
  return queues;
}

function resolveProcesses(value: unknown, env: NodeJS.ProcessEnv, fail: (m: string) => never): number {
  if (value !== undefined) {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      fail(`processes must be a whole number >= 0 (0 runs cpu workers in the main process), got ${describe(value)}`);
    }
    return value as number;
  }
  const fromEnv = env.OBAN_PRO_PROCESSES;
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    if (!/^\s*\d+\s*$/.test(fromEnv)) {
      fail(`env OBAN_PRO_PROCESSES must be a whole number >= 0, got '${fromEnv}'`);
    }
    return Number(fromEnv);
  }
  return os.availableParallelism();
}

function resolvePglite(value: unknown, env: NodeJS.ProcessEnv, fail: (m: string) => never): string {
  if (value !== undefined && (!isObject(value) || Array.isArray(value))) {
    fail(`pglite must be an object like { dataDir: './.pglite' }, got ${describe(value)}`);
  }
  const { dataDir, ...rest } = (value ?? {}) as { dataDir?: unknown };
  knownKeys(rest, ['dataDir'], fail, { within: 'pglite' });
  if (dataDir !== undefined && (typeof dataDir !== 'string' || dataDir.trim() === '')) {
    fail(`pglite.dataDir must be a folder path or 'memory://', got ${describe(dataDir)}`);
  }
  return resolveDataDir(dataDir as string | undefined, env);
}

function resolveTesting(value: unknown, fail: (m: string) => never): TestingMode {
  if (value === undefined) return 'disabled';
  if (!TESTING_MODES.includes(value as TestingMode)) {
    fail(`testing must be one of ${TESTING_MODES.map((m) => `'${m}'`).join(', ')}, got ${describe(value)}`);
  }
  return value as TestingMode;
}

/**
 * Worker processes run one per core, each busy with CPU-bound jobs: V8's GC
 * helper threads only compete with the other processes. Measured with two
 * processes on two cores: SHA-256 chains 12-20% and JSON work 8-10% faster.
 */
export const DEFAULT_PROCESS_EXEC_ARGV = ['--single-threaded-gc'];

function resolveExecArgv(value: unknown, fail: (m: string) => never): string[] {
  if (value === undefined) return [...DEFAULT_PROCESS_EXEC_ARGV];
  if (!Array.isArray(value) || value.some((flag) => typeof flag !== 'string' || !flag.startsWith('-'))) {
    fail(
      `processExecArgv must be an array of Node flags such as ['--max-old-space-size=4096'], got ${describe(value)}`,
    );
  }
  return value as string[];
}

function resolveInspectPort(value: unknown, env: NodeJS.ProcessEnv, fail: (m: string) => never): number | undefined {
  let source = 'processInspect';
  if (value === undefined && env.OBAN_PRO_INSPECT !== undefined && env.OBAN_PRO_INSPECT.trim() !== '') {
    source = 'env OBAN_PRO_INSPECT';
    const raw = env.OBAN_PRO_INSPECT.trim();
    value = raw === 'true' ? true : raw === 'false' ? false : /^\d+$/.test(raw) ? Number(raw) : raw;
  }
  if (value === undefined || value === false) return undefined;
  // The main process's own port (9229 unless --inspect says otherwise), and the next ones for the workers.
  if (value === true) return process.debugPort + 1;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1024 || value > 65_000) {
    fail(`${source} must be true or a port from 1024 to 65000 (the first worker process's), got ${describe(value)}`);
  }
  return value as number;
}

function resolveExclude(value: unknown, fail: (m: string) => never): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) fail(`processExclude must be an array of module classes or names, got ${describe(value)}`);
  return (value as unknown[]).map((entry, i) => {
    if (typeof entry === 'function' && entry.name) return entry.name;
    if (typeof entry === 'string' && entry.trim() !== '') return entry;
    return fail(`processExclude[${i}] must be a module class or its name, got ${describe(entry)}`);
  });
}

function resolveNode(value: unknown, fail: (m: string) => never): string {
  if (value === undefined) return `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  if (typeof value !== 'string' || value.trim() === '' || value.length > 200) {
    fail(`node must be a non-empty string, unique per process, got ${describe(value)}`);
  }
  return value as string;
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}
