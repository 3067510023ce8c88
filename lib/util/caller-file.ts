import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const LIB_ROOT = path.resolve(__dirname, '..');

/**
 * The file of the nearest caller outside nest-oban (and outside tslib), read
 * from the V8 call sites rather than the formatted stack, so source maps never
 * swap the executed .js file for its .ts source. Used to learn where a
 * decorated class or a `forRoot()` call lives, so a worker process can load it.
 */
export function callerFile(): string | undefined {
  const original = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  try {
    Error.stackTraceLimit = 30;
    Error.prepareStackTrace = (_err, sites) => sites;
    const sites = new Error().stack as unknown as NodeJS.CallSite[];
    for (const site of sites) {
      let file = site.getFileName();
      if (!file || file.startsWith('node:')) continue;
      if (file.startsWith('file://')) file = fileURLToPath(file);
      if (file.startsWith(LIB_ROOT + path.sep)) continue;
      if (/[\\/]node_modules[\\/](tslib|reflect-metadata)[\\/]/.test(file)) continue;
      return file;
    }
    return undefined;
  } finally {
    Error.prepareStackTrace = original;
    Error.stackTraceLimit = limit;
  }
}
