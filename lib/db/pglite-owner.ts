import * as fs from 'node:fs';
import * as path from 'node:path';
import { ObanConfigError } from '../errors';

const OWNER_FILE = 'nest-oban.pid';

/**
 * Makes this process the only one using a PGlite data folder, with a file
 * holding its pid. PGlite is Postgres inside one process: a second process
 * opening the same files would corrupt them, and could never see the first
 * one's jobs or notifications anyway. A file left by a process that died is
 * taken over. Returns the function that gives the folder up.
 */
export function claimDataDir(dir: string): () => void {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, OWNER_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => releaseDataDir(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number.parseInt(readOrEmpty(file), 10);
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
      throw new ObanConfigError(
        `ObanModule: the embedded PGlite data dir ${dir} is in use by pid ${owner}; PGlite cannot be shared by ` +
          `several nodes (processes). To run several nodes, set DATABASE_URL (the \`connection\` option) to a ` +
          `Postgres server; to run a second, separate embedded database, give it another pglite.dataDir ` +
          `(or env OBAN_PGLITE_DIR)`,
      );
    }
    fs.rmSync(file, { force: true }); // left by a process that is gone
  }
  throw new ObanConfigError(`ObanModule: could not claim the embedded PGlite data dir ${dir} (${file} keeps changing)`);
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
