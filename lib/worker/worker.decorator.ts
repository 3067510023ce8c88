import { Injectable, SetMetadata, applyDecorators } from '@nestjs/common';
import { callerFile } from '../util/caller-file';
import { type ResolvedWorkerOptions, type WorkerOptions, resolveWorkerOptions } from './worker-options';

export const OBAN_WORKER = Symbol.for('nest-oban.worker');

/** What `@Worker()` stores on a class. */
export interface WorkerMetadata extends ResolvedWorkerOptions {
  /** The file that declared the class, so a worker process can load it. */
  file: string | undefined;
}

/**
 * Marks a provider as an Oban worker. Declare it in any module's `providers`;
 * nest-oban finds it at boot and runs its jobs on the queues this node runs.
 *
 *   @Worker({ queue: 'mail', maxAttempts: 5 })
 *   export class WelcomeEmailWorker implements ObanWorker<{ userId: number }> { ... }
 */
export function Worker(options: WorkerOptions = {}): ClassDecorator {
  const file = callerFile();
  return (target) => {
    if (typeof target.prototype?.perform !== 'function') {
      throw new TypeError(`@Worker() on ${target.name}: the class needs a perform(job) method`);
    }
    const metadata: WorkerMetadata = { ...resolveWorkerOptions(target.name, options), file };
    applyDecorators(Injectable(), SetMetadata(OBAN_WORKER, metadata))(target);
  };
}

export function getWorkerMetadata(target: unknown): WorkerMetadata | undefined {
  if (typeof target !== 'function') return undefined;
  return Reflect.getOwnMetadata(OBAN_WORKER, target);
}
