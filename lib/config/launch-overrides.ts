import type { ObanModuleOptions } from './options';

/**
 * Options a launcher (the `nest-oban start` CLI) puts above the app's own
 * `ObanModule.forRoot()` options, as Oban Pro's `obanpro start` flags do: the
 * command line wins over the module and over env OBAN_QUEUES.
 */
export type LaunchOverrides = Pick<ObanModuleOptions, 'queues' | 'processes' | 'node' | 'shutdownGracePeriod'>;

// On globalThis, so a second copy of nest-oban in node_modules reads the same overrides.
const KEY = Symbol.for('nest-oban.launch-overrides');
type WithOverrides = { [KEY]?: LaunchOverrides };

export function setLaunchOverrides(overrides: LaunchOverrides | undefined): void {
  (globalThis as WithOverrides)[KEY] = overrides;
}

/** The options and env with the launcher's overrides applied (unchanged when there are none). */
export function withLaunchOverrides(
  options: ObanModuleOptions,
  env: NodeJS.ProcessEnv,
): { options: ObanModuleOptions; env: NodeJS.ProcessEnv } {
  const overrides = (globalThis as WithOverrides)[KEY];
  if (!overrides) return { options, env };
  const set = Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined));
  const queuesSet = 'queues' in set;
  return { options: { ...options, ...set }, env: queuesSet ? { ...env, OBAN_QUEUES: undefined } : env };
}
