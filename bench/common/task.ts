import { fork } from 'node:child_process';
import * as path from 'node:path';

/**
 * A task process: one part of a benchmark in an OS process of its own, so
 * that no library under test shares a heap, an event loop or a connection
 * pool with another. It reports over IPC and says 'done' last.
 */
type Done = { type: 'done' };

/**
 * Forks `file` in this process's runtime (its execArgv: none when compiled),
 * hands each message to `onMessage`, and resolves once the task said 'done'
 * and exited.
 */
export function runTask<M extends { type: string }>(
  file: string,
  args: string[],
  onMessage: (message: M) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = fork(file, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let done = false;
    child.on('message', (message: M | Done) => {
      if (message.type === 'done') done = true;
      else onMessage(message as M);
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (done) resolve();
      else reject(new Error(`bench: ${path.basename(file)} ended with ${signal ?? `code ${code}`} before finishing`));
    });
  });
}

/** In a task process: sends `message` to the parent. */
export function report<M extends { type: string }>(message: M): void {
  process.send!(message);
}

/**
 * Runs the body of a benchmark's entry or task process, then exits: some
 * libraries keep timers that would hold the process. A task process first
 * says 'done' and waits until the parent has it. A failure is printed and
 * exits non-zero (which a parent reports).
 */
export function runMain(body: () => Promise<void>): void {
  body().then(
    () => (process.send ? process.send({ type: 'done' } satisfies Done, () => process.exit(0)) : process.exit(0)),
    (error) => {
      console.error(error instanceof Error && error.message.startsWith('bench:') ? error.message : error);
      process.exit(1);
    },
  );
}
