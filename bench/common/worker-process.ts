import { type ChildProcess, fork } from 'node:child_process';
import * as path from 'node:path';

/**
 * A long-lived helper process (a floor process, a peer's worker, a cluster
 * node): it says 'ready' once it can take work and exits when told 'stop'.
 */
type Control = { type: 'ready' } | { type: 'stop' };

/**
 * Forks `file`; `ready` settles when it reports ready, or fails if it exits
 * first. Listeners put on `child` at once miss none of its messages.
 */
export function forkWorker(
  file: string,
  args: string[] = [],
  execArgv = process.execArgv,
): { child: ChildProcess; ready: Promise<void> } {
  const child = fork(file, args, { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (message: Control) => message.type === 'ready' && resolve());
    child.once('error', reject);
    child.once('exit', (code) =>
      reject(new Error(`bench: ${path.basename(file)} exited with ${code} before it was ready`)),
    );
  });
  return { child, ready };
}

/** Forks `file` and waits until it is ready. */
export async function startWorker(
  file: string,
  args: string[] = [],
  execArgv = process.execArgv,
): Promise<ChildProcess> {
  const { child, ready } = forkWorker(file, args, execArgv);
  await ready;
  return child;
}

/** Asks the process to stop and waits for its exit; SIGKILL after 10 s. */
export async function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.send({ type: 'stop' } satisfies Control);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** In the helper process: reports ready; 'stop' runs `stop` and exits; losing the parent exits at once. */
export function serveParent(stop: () => Promise<void> | void = () => undefined): void {
  process.on('message', (message: Control) => {
    if (message.type === 'stop') void Promise.resolve(stop()).finally(() => process.exit(0));
  });
  process.on('disconnect', () => process.exit(1));
  process.send!({ type: 'ready' } satisfies Control);
}
