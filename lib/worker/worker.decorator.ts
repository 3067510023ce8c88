import { Injectable, SetMetadata, applyDecorators } from '@nestjs/common';
import { type ResolvedWorkerOptions, type WorkerOptions, resolveWorkerOptions } from '../validation/worker-options';

export const OBAN_WORKER = Symbol.for('nest-oban.worker');

/** What `@Worker()` stores on a class: its options, checked and with defaults. */
export type WorkerMetadata = ResolvedWorkerOptions;

/**
 * Marks a provider as an Oban worker. Declare it in any module's `providers`;
 * nest-oban finds it at boot and runs its jobs on the queues this node runs.
 *
 *   @Worker({ queue: 'mail', maxAttempts: 5 })
 *   export class WelcomeEmailWorker implements ObanWorker<{ userId: number }> { ... }
 */
export function Worker(options: WorkerOptions = {}): ClassDecorator {
  return (target) => {
    if (typeof target.prototype?.perform !== 'function') {
      throw new TypeError(`@Worker() on ${target.name}: the class needs a perform(job) method`);
    }
    const metadata: WorkerMetadata = resolveWorkerOptions(target.name, options);
    applyDecorators(Injectable(), SetMetadata(OBAN_WORKER, metadata))(target);
  };
}

export function getWorkerMetadata(target: unknown): WorkerMetadata | undefined {
  if (typeof target !== 'function') return undefined;
  return Reflect.getOwnMetadata(OBAN_WORKER, target);
}
