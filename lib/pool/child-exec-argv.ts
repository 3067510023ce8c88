import * as path from 'node:path';

/**
 * Node flags for a worker process: those of the main process (so ts-node,
 * tsx, tsconfig-paths or any other hook that loads the app's code applies
 * there too), minus debugger flags whose ports would clash. When the main
 * process loads TypeScript through a hook registered in code rather than by a
 * flag, and the child must load .ts files, the ts-node or tsx hook is added.
 */
export function childExecArgv(entry: string, execArgv = process.execArgv): string[] {
  const argv = execArgv.filter((arg) => !/^--(inspect|debug)(-brk|-port|-publish-uid)?(=|$)/.test(arg));
  if (path.extname(entry) !== '.ts' || hasTypeScriptHook(argv)) return argv;
  for (const [flag, specifier] of [
    ['-r', 'ts-node/register'],
    ['--import', 'tsx'],
  ] as const) {
    try {
      const resolved = require.resolve(specifier, { paths: [process.cwd(), __dirname] });
      return [...argv, flag, flag === '-r' ? resolved : specifier];
    } catch {
      // not installed; try the next one
    }
  }
  throw new Error(
    'worker processes must load TypeScript, but neither ts-node nor tsx is installed; ' +
      'install one, build the app to JavaScript, or set processes: 0',
  );
}

/** Whether these Node flags load a TypeScript hook (ts-node, tsx, swc, esbuild, babel). */
export function hasTypeScriptHook(argv: string[]): boolean {
  return argv.some((arg) => /ts-node|tsx|@swc-node|esbuild-register|@babel\/register/.test(arg));
}
