import type { CanActivate, Type } from '@nestjs/common';
import { ObanConfigError } from '../errors';
import type { Job } from '../job';

/** What a viewer may do; `read` is seeing the pages at all. */
export interface DashboardPermissions {
  read: boolean;
  retry: boolean;
  cancel: boolean;
  delete: boolean;
  /** Pause and resume queues. */
  pause: boolean;
  scale: boolean;
}

export type DashboardAction = Exclude<keyof DashboardPermissions, 'read'>;
export const DASHBOARD_ACTIONS: readonly DashboardAction[] = ['retry', 'cancel', 'delete', 'pause', 'scale'];
/** The actions on jobs (the others act on queues). */
export type JobAction = 'retry' | 'cancel' | 'delete';
export const JOB_ACTIONS: readonly JobAction[] = ['retry', 'cancel', 'delete'];

/**
 * What `authorize` decides for one request: true lets it do everything
 * (within `readOnly`), false refuses it (403); an object names what it may
 * do: omitted actions are refused, omitted `read` is allowed.
 */
export type DashboardDecision = boolean | Partial<DashboardPermissions>;

export interface ObanDashboardOptions {
  /** Where the dashboard is mounted, e.g. `'/oban'` (the default). */
  path?: string;
  /**
   * Guards run on every dashboard request before `authorize` (classes are
   * resolved from the app, or created with its providers; instances are
   * used as they are). A guard that returns false refuses the request (403).
   */
  guards?: Array<Type<CanActivate> | CanActivate>;
  /** Decides per request (the adapter's request object: Express's or Fastify's) what the viewer may do. */
  authorize?: (request: any) => DashboardDecision | Promise<DashboardDecision>;
  /**
   * Without `guards` or `authorize` every request is refused (403): nothing
   * is exposed by default. `public: true` opens the dashboard to whoever
   * reaches the app (a development machine); prefer guards anywhere else.
   */
  public?: boolean;
  /** No action for anyone, whatever `authorize` says (default false). */
  readOnly?: boolean;
  /**
   * Called on every job before it is shown (lists and detail), on a copy:
   * return the job with what must not be seen (args, meta, result, errors) replaced.
   */
  redact?: (job: Job) => Job;
  /** Ms between two reads of the live figures (queues, nodes, activity), shared by every viewer (default 2000). */
  refreshInterval?: number;
  /** Above this many rows (the planner's estimate) counts are the planner's estimates (default 100000). */
  estimateAbove?: number;
  /** Ms each dashboard query may run before the server cancels it (default 5000). */
  statementTimeout?: number;
  /** Rows one job-list request reads at most, whatever its filters match (default 10000). */
  searchWindow?: number;
}

/** The options with defaults applied. */
export interface DashboardConfig {
  path: string;
  guards: Array<Type<CanActivate> | CanActivate>;
  authorize: ObanDashboardOptions['authorize'];
  public: boolean;
  readOnly: boolean;
  redact: ((job: Job) => Job) | undefined;
  refreshInterval: number;
  estimateAbove: number;
  statementTimeout: number;
  searchWindow: number;
}

const KNOWN = new Set<keyof ObanDashboardOptions>([
  'path',
  'guards',
  'authorize',
  'public',
  'readOnly',
  'redact',
  'refreshInterval',
  'estimateAbove',
  'statementTimeout',
  'searchWindow',
]);

export function resolveDashboardOptions(options: ObanDashboardOptions = {}): DashboardConfig {
  const fail = (message: string): never => {
    throw new ObanConfigError(`ObanDashboardModule.forRoot(): ${message}`);
  };
  if (typeof options !== 'object' || options === null) fail('options must be an object');
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key as keyof ObanDashboardOptions)) {
      fail(`unknown option '${key}' (options: ${[...KNOWN].join(', ')})`);
    }
  }
  const path = options.path ?? '/oban';
  if (typeof path !== 'string' || !/^\/[A-Za-z0-9._~\-/]*$/.test(path) || path.includes('//')) {
    fail(
      `path must be a URL path starting with '/' (letters, digits, '-', '_', '.', '/'), got ${JSON.stringify(path)}`,
    );
  }
  const guards = options.guards ?? [];
  if (!Array.isArray(guards)) fail('guards must be an array of CanActivate classes or instances');
  guards.forEach((guard, i) => {
    const ok = typeof guard === 'function' || (typeof guard === 'object' && typeof guard?.canActivate === 'function');
    if (!ok) fail(`guards[${i}] is neither a CanActivate class nor an object with canActivate()`);
  });
  if (options.authorize !== undefined && typeof options.authorize !== 'function') {
    fail('authorize must be a function (request) => boolean | { read, retry, cancel, delete, pause, scale }');
  }
  if (options.redact !== undefined && typeof options.redact !== 'function')
    fail('redact must be a function (job) => job');
  const flag = (name: 'public' | 'readOnly') => {
    const value = options[name] ?? false;
    if (typeof value !== 'boolean') fail(`${name} must be true or false, got ${JSON.stringify(value)}`);
    return value;
  };
  const whole = (name: keyof ObanDashboardOptions, fallback: number, min: number) => {
    const value = (options[name] as number | undefined) ?? fallback;
    if (!Number.isInteger(value) || value < min) fail(`${name} must be a whole number >= ${min}, got ${String(value)}`);
    return value;
  };
  return {
    path: path.length > 1 ? path.replace(/\/+$/, '') : path,
    guards,
    authorize: options.authorize,
    public: flag('public'),
    readOnly: flag('readOnly'),
    redact: options.redact,
    refreshInterval: whole('refreshInterval', 2_000, 100),
    estimateAbove: whole('estimateAbove', 100_000, 0),
    statementTimeout: whole('statementTimeout', 5_000, 1),
    searchWindow: whole('searchWindow', 10_000, 100),
  };
}

export const OBAN_DASHBOARD_CONFIG = Symbol.for('nest-oban.dashboard-config');

const NONE: DashboardPermissions = {
  read: false,
  retry: false,
  cancel: false,
  delete: false,
  pause: false,
  scale: false,
};

/** What a decision of `authorize` (or a guard's pass) grants, within `readOnly`. */
export function permissionsOf(decision: DashboardDecision, readOnly: boolean): DashboardPermissions {
  if (decision === false) return { ...NONE };
  const granted: DashboardPermissions =
    decision === true
      ? { read: true, retry: true, cancel: true, delete: true, pause: true, scale: true }
      : {
          read: decision.read !== false,
          retry: decision.retry === true,
          cancel: decision.cancel === true,
          delete: decision.delete === true,
          pause: decision.pause === true,
          scale: decision.scale === true,
        };
  if (!granted.read) return { ...NONE };
  if (readOnly) return { ...NONE, read: true };
  return granted;
}
