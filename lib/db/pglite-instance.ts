import * as path from 'node:path';
import { Logger } from '@nestjs/common';
import type { PGlite } from '@electric-sql/pglite';
import { claimDataDir } from './pglite-owner';
import { SessionLock } from './session-lock';

/** `memory://` (or `memory://name`): a database that lives and dies with the process. */
export function isInMemory(dataDir: string): boolean {
  return dataDir.startsWith('memory://');
}

/** Where the embedded database lives: the option, else env OBAN_PGLITE_DIR, else ./.pglite. */
export function resolveDataDir(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const dir = option ?? (env.OBAN_PGLITE_DIR?.trim() || '.pglite');
  return isInMemory(dir) ? dir : path.resolve(dir);
}

/**
 * One PGlite database, shared by everything in this process that opens the
 * same data dir (nest-oban's nodes, the TypeORM driver of pglite-typeorm.ts):
 * opening the files twice would corrupt them. Every statement goes through
 * `lock`, the one session's lock. Closed when the last user releases it.
 */
export class EmbeddedPglite {
  private static readonly open = new Map<string, Promise<EmbeddedPglite>>();
  private refs = 0;

  private constructor(
    readonly dataDir: string,
    readonly pglite: PGlite,
    readonly lock: SessionLock,
    private readonly giveUpDir: () => void,
  ) {}

  /** Opens (or joins) the database in `dataDir`; pair with `release()`. */
  static async acquire(dataDir: string): Promise<EmbeddedPglite> {
    let opening = EmbeddedPglite.open.get(dataDir);
    if (!opening) {
      opening = EmbeddedPglite.create(dataDir);
      EmbeddedPglite.open.set(dataDir, opening);
      opening.catch(() => EmbeddedPglite.open.delete(dataDir));
    }
    const instance = await opening;
    instance.refs++;
    return instance;
  }

  private static async create(dataDir: string): Promise<EmbeddedPglite> {
    const logger = new Logger('Oban');
    const giveUpDir = isInMemory(dataDir)
      ? () => undefined
      : await claimDataDir(dataDir, (owner, waitMs) =>
          logger.warn(
            `the embedded PGlite data dir ${dataDir} is in use by pid ${owner} (the app's previous process, ` +
              `after a watch restart?); waiting up to ${waitMs} ms for it to exit`,
          ),
        );
    const onExit = () => giveUpDir();
    process.once('exit', onExit); // a process that exits without closing still frees the folder
    try {
      const { PGlite, types } = require('@electric-sql/pglite') as typeof import('@electric-sql/pglite');
      const pglite = await PGlite.create(isInMemory(dataDir) ? dataDir : path.join(dataDir, 'pgdata'), {
        // As node-postgres returns them, so code written for pg (TypeORM included) reads the same values.
        parsers: { [types.INT8]: (value: string) => value, [1700 /* numeric */]: (value: string) => value },
      });
      const lock = new SessionLock(5_000, (heldFor) =>
        logger.warn(
          `waiting for the embedded PGlite database at ${dataDir}: it is one session, held for ${heldFor} ms by a ` +
            `transaction. If that transaction awaits an Oban call made without { manager }, it waits forever: ` +
            `pass the transaction's manager`,
        ),
      );
      return new EmbeddedPglite(dataDir, pglite, lock, () => {
        process.off('exit', onExit);
        giveUpDir();
      });
    } catch (error) {
      process.off('exit', onExit);
      giveUpDir();
      throw error;
    }
  }

  async release(): Promise<void> {
    if (--this.refs > 0) return;
    EmbeddedPglite.open.delete(this.dataDir);
    try {
      await this.lock.run(() => this.pglite.close());
    } finally {
      this.giveUpDir();
    }
  }
}
