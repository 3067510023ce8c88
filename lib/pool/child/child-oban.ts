import type { EntityManager } from 'typeorm';
import type { InsertOptions } from '../../engine/insert-row';
import { ObanError, ObanValidationError } from '../../errors';
import { findNonJson } from '../../json';
import { getWorkerMetadata } from '../../worker/worker.decorator';

type Call = (method: string, args: unknown[]) => Promise<unknown>;

/**
 * `Oban` inside a worker process: the same API, carried out by the main
 * process over IPC, so a job can enqueue follow-up jobs or control queues
 * without a database connection of its own.
 */
export class ChildOban {
  constructor(private readonly call: Call) {}

  insert(worker: unknown, args: unknown, options: InsertOptions = {}) {
    const name = workerName(worker, 'insert');
    noManager(options.manager, 'insert');
    checkJson(args, `insert(${name}): args`);
    return this.call('insert', [name, args, options]);
  }

  insertAll(entries: Array<{ worker: unknown; args: unknown }>, options: { manager?: EntityManager } = {}) {
    noManager(options.manager, 'insertAll');
    const plain = entries.map((entry, i) => {
      const name = workerName(entry?.worker, `insertAll[${i}]`);
      checkJson(entry.args, `insertAll[${i}] (${name}): args`);
      return { ...entry, worker: name };
    });
    return this.call('insertAll', [plain]);
  }

  getJob(id: number) {
    return this.call('getJob', [id]);
  }

  listJobs(filter: object = {}) {
    return this.call('listJobs', [filter]);
  }

  cancelJob(id: number) {
    return this.call('cancelJob', [id]);
  }

  retryJob(id: number) {
    return this.call('retryJob', [id]);
  }

  deleteJob(id: number) {
    return this.call('deleteJob', [id]);
  }

  pauseQueue(queue: string) {
    return this.call('pauseQueue', [queue]);
  }

  resumeQueue(queue: string) {
    return this.call('resumeQueue', [queue]);
  }

  scaleQueue(queue: string, limit: number) {
    return this.call('scaleQueue', [queue, limit]);
  }

  checkQueue(): never {
    throw new ObanError('checkQueue() reports the main process and is not available in a worker process');
  }
}

/** The methods a worker process may call in the main process. */
export const CHILD_OBAN_METHODS = new Set([
  'insert',
  'insertAll',
  'getJob',
  'listJobs',
  'cancelJob',
  'retryJob',
  'deleteJob',
  'pauseQueue',
  'resumeQueue',
  'scaleQueue',
]);

function workerName(worker: unknown, where: string): string {
  if (typeof worker === 'string') return worker;
  const metadata = getWorkerMetadata(worker);
  if (!metadata) {
    const label = typeof worker === 'function' ? worker.name : String(worker);
    throw new ObanValidationError(`${where}: ${label} is not a worker; decorate the class with @Worker()`);
  }
  return metadata.name;
}

function noManager(manager: unknown, where: string): void {
  if (manager !== undefined) {
    throw new ObanValidationError(
      `${where}: { manager } is not available in a worker process (cpu: true), whose jobs run outside the main ` +
        `process's transactions; insert without it, or from a worker that is not cpu: true`,
    );
  }
}

function checkJson(value: unknown, where: string): void {
  const problem = findNonJson(value, 'args');
  if (problem) throw new ObanValidationError(`${where.replace(/: args$/, '')}: ${problem}`);
}
