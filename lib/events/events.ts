import type { InsertedJob, Job, JobState } from '../job';

/*
 * nest-oban's lifecycle events, in Oban's telemetry vocabulary. Each name maps
 * to its payload type; `ObanEvents` emits them in the main process (jobs that
 * ran in a worker process included) and publishes each on the
 * `node:diagnostics_channel` channel `nest-oban:<name>`.
 */

/** An error as the events carry it: `Name: message`, and the stack when there was one. */
export interface ObanEventError {
  message: string;
  stack?: string;
}

/**
 * How an attempt ended, as Oban's `job.stop` names it:
 * `completed`; `failure` (it failed and will be retried); `discard` (it failed
 * with no attempt left, or could not run at all); `cancelled` (it returned
 * `cancel()`, or was cancelled while running); `snoozed`; `released` (stopped
 * by shutdown without being charged: put back, or left for the lifeline).
 */
export type JobStopState = 'completed' | 'failure' | 'discard' | 'cancelled' | 'snoozed' | 'released';

/** What every job event carries. */
export interface JobEventBase {
  /** The job as claimed: `attempt` is this attempt's number. */
  job: Job;
  /** The node (this process) that ran the attempt. */
  node: string;
  queue: string;
  worker: string;
  attempt: number;
  /** True when the attempt ran in a worker process (`cpu: true`); the event is emitted in the main process all the same. */
  cpu: boolean;
  /** Epoch ms the attempt started (its code began to run, in whichever process). */
  startTime: number;
  /** Ms from when the job was due (`scheduledAt`) to when it was claimed (`attemptedAt`), as Oban's `queue_time`. */
  queueTime: number;
  /**
   * The same object in the `job.start`, `job.exception` and `job.stop` of one
   * attempt (Oban's `telemetry_span_context`): a tracer can key its span on it.
   */
  spanContext: object;
}

export type JobStartEvent = JobEventBase;

export interface JobStopEvent extends JobEventBase {
  state: JobStopState;
  /** Ms the attempt ran, on the monotonic clock of the main process. */
  duration: number;
  /** The state the job's row is given: `completed`, `retryable`, `discarded`, `cancelled`, `scheduled` or `available`; null when it is left as it is (cancelled elsewhere, or left for rescue). */
  jobState: JobState | null;
  /** What `perform` returned (its JSON form), when completed. */
  result?: unknown;
  /** Why it failed or was discarded; the reason given to `cancel()` for `cancelled`. */
  error?: ObanEventError;
  /** Seconds it was snoozed for, when `snoozed`. */
  snooze?: number;
}

export interface JobExceptionEvent extends JobEventBase {
  /** `failure` when it will be retried, `discard` when it will not. */
  state: 'failure' | 'discard';
  duration: number;
  error: ObanEventError;
}

export interface InsertEvent {
  /** The jobs as stored, in input order; a unique job's duplicate is the stored job it met (`conflict: true`). */
  jobs: InsertedJob[];
  /** True for `insertAll`, false for `insert`. */
  bulk: boolean;
  node: string;
  /** Ms the insert took (validation and the statement). */
  duration: number;
}

export interface QueuePauseEvent {
  queue: string;
  /** The node whose `Oban` was asked (every node running the queue follows). */
  node: string;
}
export type QueueResumeEvent = QueuePauseEvent;
export interface QueueScaleEvent extends QueuePauseEvent {
  limit: number;
}

export interface LeaderElectedEvent {
  node: string;
  /** Epoch ms this tenure began. */
  since: number;
}
export interface LeaderResignedEvent {
  node: string;
  /** Epoch ms this node stopped acting as leader. */
  until: number;
}

export interface LifelineRescueEvent {
  /** The node that rescued (the leader, or the node itself at a restart). */
  node: string;
  /** The node that left the jobs executing (null when the rows name none). */
  from: string | null;
  /** `dead-node`: its heartbeat stopped; `restart`: an earlier process of this node's name left them. */
  reason: 'dead-node' | 'restart';
  queue: string;
  /** Jobs put back: `available` made available again, `discarded` had no attempt left. */
  count: number;
  available: number;
  discarded: number;
}

export interface NotifierConnectedEvent {
  node: string;
  /** False for the first connection, true for each one after a loss. */
  reconnect: boolean;
}
export interface NotifierDisconnectedEvent {
  node: string;
  error: ObanEventError;
}

export interface PoolProcessStartedEvent {
  node: string;
  pid: number | undefined;
  /** Its place in the pool, 0 to `processes - 1`. */
  slot: number;
}
export interface PoolProcessExitedEvent {
  node: string;
  pid: number | undefined;
  slot: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Ids of the jobs it held when it exited. */
  jobs: number[];
  /** True when nest-oban stopped it (timeout, cancel, shutdown); false when it died on its own. */
  stopped: boolean;
}

export interface CronInsertEvent {
  node: string;
  /** The crontab entry's name. */
  name: string;
  /** The slot (a Date on the schedule) the job was inserted for. */
  slot: Date;
  jobId: number;
  /** True when the slot was missed (inserted over a minute late, e.g. by a new leader catching up). */
  missed: boolean;
}

/** Every event name and its payload. */
export interface ObanEventMap {
  'job.start': JobStartEvent;
  'job.stop': JobStopEvent;
  'job.exception': JobExceptionEvent;
  insert: InsertEvent;
  'queue.pause': QueuePauseEvent;
  'queue.resume': QueueResumeEvent;
  'queue.scale': QueueScaleEvent;
  'leader.elected': LeaderElectedEvent;
  'leader.resigned': LeaderResignedEvent;
  'lifeline.rescue': LifelineRescueEvent;
  'notifier.connected': NotifierConnectedEvent;
  'notifier.disconnected': NotifierDisconnectedEvent;
  'pool.process.started': PoolProcessStartedEvent;
  'pool.process.exited': PoolProcessExitedEvent;
  'cron.insert': CronInsertEvent;
}

export type ObanEventName = keyof ObanEventMap;

export const OBAN_EVENT_NAMES: readonly ObanEventName[] = [
  'job.start',
  'job.stop',
  'job.exception',
  'insert',
  'queue.pause',
  'queue.resume',
  'queue.scale',
  'leader.elected',
  'leader.resigned',
  'lifeline.rescue',
  'notifier.connected',
  'notifier.disconnected',
  'pool.process.started',
  'pool.process.exited',
  'cron.insert',
];

/** The `node:diagnostics_channel` channel an event is published on. */
export function obanChannelName(name: ObanEventName): string {
  return `nest-oban:${name}`;
}
