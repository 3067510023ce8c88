import * as fs from 'node:fs';
import * as path from 'node:path';
import { ObanConfigError } from '../errors';

const OWNER_FILE = 'nest-oban.pid';

/** How long a new process waits for the previous owner of the folder to exit (a watch restart's old process). */
export const DATA_DIR_WAIT_MS = 10_000;
const POLL_MS = 100;

/**
 * Makes this process the only one using a PGlite data folder, with a file
 * holding its pid. PGlite is Postgres inside one process: a second process
 * opening the same files would corrupt them, and could never see the first
 * one's jobs or notifications anyway. A file left by a process that died is
 * taken over. A live owner is waited for, up to `waitMs`: when a watcher
 * (nest start --watch) restarts the app, the new process starts while the old
 * one is still closing the database; `onWait` is told once that it waits.
 * Returns the function that gives the folder up.
 */
export async function claimDataDir(
  dir: string,
  onWait: (owner: number, waitMs: number) => void = () => undefined,
  waitMs = DATA_DIR_WAIT_MS,
): Promise<() => void> {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, OWNER_FILE);
  const deadline = Date.now() + waitMs;
  let waitedFor: number | undefined;
  let takeovers = 0;
  for (;;) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => releaseDataDir(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number.parseInt(readOrEmpty(file), 10);
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
      if (Date.now() >= deadline) {
        throw new ObanConfigError(
          `ObanModule: the embedded PGlite data dir ${dir} is in use by pid ${owner}` +
            (waitedFor === owner ? ` (waited ${waitMs} ms for it to exit)` : '') +
            `; PGlite cannot be shared by ` +
            `several nodes (processes). To run several nodes, set DATABASE_URL (the \`connection\` option) to a ` +
            `Postgres server; to run a second, separate embedded database, give it another pglite.dataDir ` +
            `(or env OBAN_PGLITE_DIR)`,
        );
      }
      if (waitedFor !== owner) onWait(owner, waitMs);
      waitedFor = owner;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      continue;
    }
    if (++takeovers > 3) {
      throw new ObanConfigError(
        `ObanModule: could not claim the embedded PGlite data dir ${dir} (${file} keeps changing)`,
      );
    }
    fs.rmSync(file, { force: true }); // left by a process that is gone
  }
}

function releaseDataDir(file: string): void {
  try {
    if (readOrEmpty(file) === String(process.pid)) fs.rmSync(file, { force: true });
  } catch {
    // the folder is gone already: nothing to give up
  }
}

function readOrEmpty(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // alive, owned by someone else
  }
}
