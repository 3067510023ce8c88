export { ObanModule } from './oban.module';
export { Oban, type ArgsOf, type InsertAllEntry, type ResultOf } from './oban.service';
export type { QueueState } from './node-view';
export type { PoolProcessStats } from './pool/protocol/stats';
export { isWorkerProcess } from './util/process-role';
export { Worker, getWorkerMetadata } from './worker/worker.decorator';
export type { ObanWorker, PerformContext } from './worker/worker.interface';
export type { WorkerOptions } from './validation/worker-options';
export { type Job, type JobArgs, type JobError, type JobState, JOB_STATES } from './job';
export { JobCancel, JobSnooze, cancel, snooze } from './snooze-cancel';
export type { InsertOptions, JobOptions } from './validation/job-options';
export type { ListJobsFilter } from './store/job-store';
export type {
  ObanModuleAsyncOptions,
  ObanModuleOptions,
  ObanOptionsFactory,
  QueueOption,
  TestingMode,
} from './config/options';
export type { ClusterOptions, CronEntry, PrunerOptions } from './config/cluster-options';
export { ObanConfigError, ObanError, ObanValidationError } from './errors';
export { ObanEvents, type ObanEventListener } from './events/oban-events';
export { OnObanEvent } from './events/on-oban-event.decorator';
export { ObanLogger, type ObanLogLevel } from './events/oban-logger';
export {
  OBAN_EVENT_NAMES,
  obanChannelName,
  type CronInsertEvent,
  type InsertEvent,
  type JobEventBase,
  type JobExceptionEvent,
  type JobStartEvent,
  type JobStopEvent,
  type JobStopState,
  type LeaderElectedEvent,
  type LeaderResignedEvent,
  type LifelineRescueEvent,
  type NotifierConnectedEvent,
  type NotifierDisconnectedEvent,
  type ObanEventError,
  type ObanEventMap,
  type ObanEventName,
  type PoolProcessExitedEvent,
  type PoolProcessStartedEvent,
  type QueuePauseEvent,
  type QueueResumeEvent,
  type QueueScaleEvent,
} from './events/events';
export { JobCancelledError, JobTimeoutError } from './queue/abort-reasons';
export { OBAN_SCHEMA_VERSION, obanMigrations } from '../migrations';
export { embeddedTypeOrmOptions, type EmbeddedTypeOrmOptions } from './db/pglite-typeorm';
