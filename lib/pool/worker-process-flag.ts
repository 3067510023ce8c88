/**
 * Set in a worker process before it loads the app's modules, so code loaded
 * there (ObanModule.forRoot in particular) knows it is not the main process.
 * A global flag rather than an env var: processes a job spawns do not inherit it.
 */
const FLAG = Symbol.for('nest-oban.worker-process');

export function markWorkerProcess(): void {
  (globalThis as any)[FLAG] = true;
}

/** True inside a nest-oban worker process (where `cpu: true` jobs run). */
export function isWorkerProcess(): boolean {
  return (globalThis as any)[FLAG] === true;
}
