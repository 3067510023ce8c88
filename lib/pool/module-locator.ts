import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Type } from '@nestjs/common';
import { ObanConfigError } from '../errors';
import type { RegisteredWorker } from '../worker/worker-registry';
import type { BootSpec, ModuleLocation } from './protocol/messages';

/**
 * Works out, in the main process, what a worker process must load to boot the
 * modules that declare the `cpu: true` workers, without the user naming any
 * file. Two sources, tried in the worker process in this order:
 *
 * - the root file: where ObanModule.forRoot() was called. Loading it (not
 *   booting it) rebuilds the app's module graph, in which the worker process
 *   finds each host module and every global module (ConfigModule.forRoot(),
 *   TypeOrmModule.forRoot(), ...), dynamic ones included. Works for CommonJS
 *   and ESM alike. Skipped when that file is the program's entry (main.ts),
 *   since loading it would start the app; unless the host module is in no
 *   other file (a bundle): then the worker process loads the entry with
 *   NestFactory guarded (`entryFile`, see child/app-guard.ts).
 * - the module's own file, found in require.cache (CommonJS, ts-node, tsx).
 *   Only the host module boots then: global modules are known only through
 *   the root.
 */
export function buildBootSpec(
  cpuWorkers: RegisteredWorker[],
  rootFile: string | undefined,
  logLevels: string[],
  exclude: string[] = [],
): BootSpec {
  const rootIsEntry = rootFile !== undefined && isEntryFile(rootFile);
  const usableRoot = rootFile && !rootIsEntry ? rootFile : undefined;
  let entryFile: string | undefined;
  const workers = cpuWorkers.map((worker) => {
    const host = worker.hostModule;
    if (!host) {
      throw new ObanConfigError(`cpu worker ${worker.name}: cannot tell which module declares it`);
    }
    const hostLocation = locate(host);
    if (!usableRoot && !hostLocation && rootIsEntry) {
      // forRoot() in the entry and the module in no other file: a bundle (or a one-file app).
      entryFile = rootFile;
    } else if (!usableRoot && !hostLocation) {
      throw new ObanConfigError(
        `cpu worker ${worker.name}: worker processes cannot load its module ${host.name}: ` +
          `export ${host.name} from its file, and call ObanModule.forRoot() in a module file rather than in ` +
          `the entry file (or set processes: 0 to run cpu workers in the main process)`,
      );
    }
    return { name: worker.name, hostModule: host.name, hostLocation };
  });
  return {
    rootFile: usableRoot,
    ...(entryFile ? { entryFile } : {}),
    workers,
    logLevels,
    ...(exclude.length > 0 ? { exclude } : {}),
  };
}

/** The file and export name under which a class sits in require.cache, if any. */
export function locate(target: Type): ModuleLocation | undefined {
  const cache: NodeJS.Dict<NodeModule> = require.cache ?? {};
  for (const [file, mod] of Object.entries(cache)) {
    const exports = mod?.exports;
    if (!exports || (typeof exports !== 'object' && typeof exports !== 'function')) continue;
    if (exports === target) return { file, exportName: 'module.exports' };
    for (const key of Object.keys(exports)) {
      try {
        if (exports[key] === target) return { file, exportName: key };
      } catch {
        // a getter that throws: not our class
      }
    }
  }
  return undefined;
}

/**
 * Whether `file` is the program's entry. Under ESM there is no require.main,
 * and process.argv[1] is the path as typed: `node dist/main` lacks the `.js`
 * Node added to find the file.
 */
export function isEntryFile(file: string, argv1 = process.argv[1], main = require.main?.filename): boolean {
  const target = realpath(file);
  const candidates = [main, argv1, ...['.js', '.mjs', '.cjs'].map((ext) => argv1 && argv1 + ext)];
  return candidates.some((entry) => entry !== undefined && realpath(entry) === target);
}

function realpath(file: string): string {
  try {
    return fs.realpathSync(path.resolve(file));
  } catch {
    return path.resolve(file);
  }
}
