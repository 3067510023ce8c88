/**
 * Which kind of process this is: the main process of the app, or a process of
 * nest-oban's pool (where `cpu: true` jobs run). The pool process sets it
 * before it loads the app's modules, so code loaded there (ObanModule.forRoot
 * in particular) knows. A global rather than an env var: processes a job
 * spawns do not inherit it.
 */
const ROLE = Symbol.for('nest-oban.worker-process');

/** Carries a call of an `Oban` method to the main process (see pool/protocol/calls.ts). */
export type MainProcessCall = (method: string, args: unknown[]) => Promise<unknown>;

/** Marks this process as a pool process; `call` reaches the main process's `Oban`. */
export function markPoolProcess(call: MainProcessCall): void {
  (globalThis as any)[ROLE] = call;
}

/** True inside a nest-oban pool process (a "worker process", where `cpu: true` jobs run). */
export function isWorkerProcess(): boolean {
  return Boolean((globalThis as any)[ROLE]);
}

/** The channel to the main process; only inside a pool process. */
export function mainProcessCall(): MainProcessCall {
  const call = (globalThis as any)[ROLE];
  if (typeof call !== 'function') throw new Error('nest-oban: not a pool process');
  return call;
}
