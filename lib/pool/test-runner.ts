import type { Type } from '@nestjs/common';
import { hasTypeScriptHook } from './child-exec-argv';
import { locate } from './module-locator';

/** The test runner this process runs under, told by the variables each one sets in its workers. */
export function detectTestRunner(env: NodeJS.ProcessEnv = process.env): 'Vitest' | 'Jest' | undefined {
  if (env.VITEST) return 'Vitest';
  if (env.JEST_WORKER_ID) return 'Jest';
  return undefined;
}

/**
 * Under Vitest or Jest the app's TypeScript is compiled by the runner's own
 * transform, inside the runner's process (Vite's module runner, Jest's module
 * registry); a forked worker process cannot use it, and loading the .ts files
 * there fails. Then cpu workers must run in the main process. Returns the
 * log line saying so, or undefined when worker processes can load the files
 * (a compiled build, or a TypeScript hook in the Node flags they inherit).
 * A process warning, once per process: Nest's testing logger shows nothing but errors.
 */
export function testRunnerFallback(
  workerNames: string[],
  rootFile: string | undefined,
  hostModules: Array<Type | undefined>,
  execArgv: string[],
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const runner = detectTestRunner(env);
  if (!runner || hasTypeScriptHook(execArgv)) return undefined;
  const files = [rootFile, ...hostModules.map((host) => host && locate(host)?.file)];
  const known = files.filter((file): file is string => file !== undefined);
  if (known.length > 0 && !known.some(isTypeScript)) return undefined;
  return (
    `${runner} detected: cpu workers (${workerNames.join(', ')}) run in this process, since a worker process ` +
    `cannot load the app's TypeScript through ${runner}'s transform; to choose this yourself (and silence this ` +
    `line): processes: 0, or env OBAN_PRO_PROCESSES=0`
  );
}

let warned = false;

/** Says, once per process, that cpu workers run in this process under the test runner. */
export function warnTestRunnerFallback(message: string): void {
  if (warned) return;
  warned = true;
  process.emitWarning(message, { type: 'ObanWarning', code: 'OBAN_CPU_IN_PROCESS' });
}

function isTypeScript(file: string): boolean {
  return /\.[cm]?tsx?$/.test(file);
}
