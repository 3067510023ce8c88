import { pathToFileURL } from 'node:url';

/**
 * Loads a file of the app: require() first, so whatever hook loads the app's
 * code in the main process (ts-node, tsx, a path-alias hook: inherited through
 * execArgv) applies; import() for ESM files require() cannot take.
 */
export async function loadFile(file: string): Promise<Record<string, unknown>> {
  try {
    return require(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ERR_REQUIRE_ESM' && code !== 'ERR_REQUIRE_ASYNC_MODULE') throw error;
    return import(pathToFileURL(file).href);
  }
}
