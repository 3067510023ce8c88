/**
 * nest-oban/testing: helpers for an app's own tests, in the spirit of
 * Oban.Testing. Kept out of the main entry so production code never loads
 * them. Pair them with the `testing` option of ObanModule.forRoot():
 * `'manual'` (jobs are stored, no queue runs; drain and assert) or
 * `'inline'` (insert runs the job at once and returns it finished).
 */
export { drainQueue, type DrainOptions, type DrainResult } from './drain';
export { allEnqueued, assertEnqueued, refuteEnqueued, type EnqueuedMatch, type WaitOptions } from './enqueued';
export type { ObanTarget } from './target';
export type { TestingMode } from '../config/options';
