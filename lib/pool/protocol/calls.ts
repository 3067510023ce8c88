import { ObanValidationError } from '../../errors';
import { findNonJson } from '../../json';
import { getWorkerMetadata } from '../../worker/worker.decorator';

/**
 * The `Oban` methods a job running in a pool process may call: the one list
 * from which the pool process's `Oban` stand-in (remote-oban.ts) is built and
 * against which the main process checks each call before carrying it out.
 */
export const MAIN_PROCESS_CALLS = [
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
  'relay',
  'awaitJob',
  'workflowStatus',
  'workflowJobs',
  'cancelWorkflow',
  'retryWorkflow',
  'addToBatch',
  'batchStatus',
  // The writes of the workflow and batch builders, which run in the pool process (remote-oban.ts).
  'insertWorkflowPlan',
  'insertBatchPlan',
] as const;

export type MainProcessCallName = (typeof MAIN_PROCESS_CALLS)[number];

const CALLS: ReadonlySet<string> = new Set(MAIN_PROCESS_CALLS);

export function isMainProcessCall(method: unknown): method is MainProcessCallName {
  return typeof method === 'string' && CALLS.has(method);
}

/**
 * Makes a call's arguments fit the IPC channel, in the pool process, so a bad
 * argument fails where the job made the call: worker classes become their
 * names, args must be JSON, and a transaction's manager cannot cross.
 */
export function encodeCallArgs(method: MainProcessCallName, args: unknown[]): unknown[] {
  if (method === 'insert') {
    const [worker, jobArgs, options = {}] = args as [unknown, unknown, { manager?: unknown }?];
    const name = workerName(worker, 'insert');
    noManager(options?.manager, 'insert');
    checkJson(jobArgs, `insert(${name})`);
    return [name, jobArgs, options];
  }
  if (method === 'insertAll') {
    const [entries, options = {}] = args as [Array<{ worker: unknown; args: unknown }>, { manager?: unknown }?];
    noManager(options?.manager, 'insertAll');
    if (!Array.isArray(entries)) return [entries];
    const plain = entries.map((entry, i) => {
      const name = workerName(entry?.worker, `insertAll[${i}]`);
      checkJson(entry.args, `insertAll[${i}] (${name})`);
      return { ...entry, worker: name };
    });
    return [plain];
  }
  if (method === 'relay') {
    const [worker, jobArgs, options = {}] = args as [unknown, unknown, { manager?: unknown; signal?: unknown }?];
    const name = workerName(worker, 'relay');
    noManager(options?.manager, 'relay');
    noSignal(options?.signal, `relay(${name})`);
    checkJson(jobArgs, `relay(${name})`);
    return [name, jobArgs, options];
  }
  if (method === 'awaitJob') {
    const [job, options = {}] = args as [unknown, { signal?: unknown }?];
    noSignal(options?.signal, 'awaitJob');
    const id = typeof job === 'object' && job !== null ? (job as { id: unknown }).id : job;
    return [id, options];
  }
  if (method === 'addToBatch') {
    const [id, entries, options = {}] = args as [
      unknown,
      Array<{ worker: unknown; args: unknown }>,
      { manager?: unknown }?,
    ];
    noManager(options?.manager, 'addToBatch');
    if (!Array.isArray(entries)) return [id, entries];
    const plain = entries.map((entry, i) => {
      const name = workerName(entry?.worker, `addToBatch[${i}]`);
      checkJson(entry.args, `addToBatch[${i}] (${name})`);
      return { ...entry, worker: name };
    });
    return [id, plain];
  }
  if (method === 'insertWorkflowPlan') {
    // A step as compose/workflow.ts plans it, and a batch member as compose/batch.ts keeps it (a layer above).
    const [id, steps, appender, where, manager] = args as [unknown, PlanEntry[], unknown, string, unknown];
    noManager(manager, where);
    const plain = steps.map((step) => {
      const label = `${where} step '${step.name}'`;
      const name = workerName(step.worker, label);
      checkJson(step.args, `${label} (${name})`);
      return { ...step, worker: name };
    });
    return [id, plain, appender, where];
  }
  if (method === 'insertBatchPlan') {
    const [id, callbacks, members, manager] = args as [
      unknown,
      Record<string, { worker: unknown; args?: unknown }>,
      PlanEntry[],
      unknown,
    ];
    noManager(manager, 'batch.insert');
    const named: Record<string, unknown> = {};
    for (const [key, callback] of Object.entries(callbacks)) {
      const name = workerName(callback?.worker, `batch ${key}`);
      checkJson(callback.args ?? {}, `batch ${key} (${name})`);
      named[key] = { ...callback, worker: name };
    }
    const plain = members.map((member, i) => {
      const where = member.where ?? `batch member ${i}`;
      const name = workerName(member.worker, where);
      checkJson(member.args, `${where} (${name})`);
      return { ...member, worker: name };
    });
    return [id, named, plain];
  }
  return args;
}

/** What the builders' plans hold per job: a worker (class or name) and its args, among other fields. */
interface PlanEntry {
  name?: string;
  where?: string;
  worker: unknown;
  args: unknown;
}

/** An AbortSignal cannot cross the process boundary: a wait from a worker process ends by its timeout. */
function noSignal(signal: unknown, where: string): void {
  if (signal !== undefined) {
    throw new ObanValidationError(
      `${where}: { signal } is not available in a worker process (cpu: true): an AbortSignal cannot cross to the ` +
        `main process that waits; use { timeout }`,
    );
  }
}

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
  if (problem) throw new ObanValidationError(`${where}: ${problem}`);
}
