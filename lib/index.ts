export { ObanModule } from './oban.module';
export { Oban, type ArgsOf, type InsertAllEntry, type ResultOf, type ScaleQueueOptions } from './oban.service';
export type { QueueLimitsState, QueueState } from './node-view';
export type { PartitionState, QueueLimits, QueueLimitsChange, QueuePartition, RateLimit } from './store/limited-claim';
export type { PoolProcessStats } from './pool/protocol/stats';
export { isWorkerProcess } from './util/process-role';
export { Worker, getWorkerMetadata } from './worker/worker.decorator';
export type { ObanWorker, PerformContext } from './worker/worker.interface';
export type { WorkerOptions } from './validation/worker-options';
export {
  type InsertedJob,
  type Job,
  type JobArgs,
  type JobError,
  type JobState,
  type JobWorkflow,
  JOB_STATES,
  workflowOf,
} from './job';
export { JobCancel, JobSnooze, cancel, snooze } from './snooze-cancel';
export type { InsertOptions, JobOptions } from './validation/job-options';
export type { ReplaceField, UniqueField, UniqueOptions, UniqueStateGroup } from './validation/unique-options';
export type { ListJobsFilter } from './store/job-store';
export type {
  ObanModuleAsyncOptions,
  ObanModuleOptions,
  ObanOptionsFactory,
  QueueOption,
  TestingMode,
} from './config/options';
export type { ClusterOptions, CronEntry, PrunerOptions } from './config/cluster-options';
export {
  ObanConfigError,
  ObanError,
  ObanValidationError,
  RelayAbortedError,
  RelayCancelledError,
  RelayDeletedError,
  RelayDiscardedError,
  RelayError,
  RelayTimeoutError,
} from './errors';
export type { AwaitOptions } from './compose/relay';
export {
  Workflow,
  type DepFailurePolicy,
  type DepRef,
  type InsertedWorkflow,
  type StepOptions,
  type SubWorkflowOptions,
} from './compose/workflow';
export type { WorkflowStatus } from './compose/workflow-store';
export {
  Batch,
  type BatchCallback,
  type BatchCallbackName,
  type BatchOptions,
  type BatchStatus,
} from './compose/batch';
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
