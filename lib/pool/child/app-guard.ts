import { createRequire } from 'node:module';
import * as net from 'node:net';
import { NestFactory } from '@nestjs/core';
import { loadFile } from '../../util/load-file';
import { type ModuleRef, importsOban, isModule } from './module-graph';

/** How long the entry file of a bundle has to hand NestFactory its root module. */
const ENTRY_START_TIMEOUT_MS = 10_000;

const GUARDED_METHODS = ['create', 'createMicroservice', 'createApplicationContext'] as const;

/** The real createApplicationContext, taken before the guard: the worker process's own context. */
export const createWorkerContext: typeof NestFactory.createApplicationContext =
  NestFactory.createApplicationContext.bind(NestFactory);

const guarded = new WeakSet<object>();
/** The modules the app's code handed NestFactory in this process: its root module. */
const started: unknown[] = [];
const onStart: Array<() => void> = [];

/**
 * A worker process never starts the app: from here on, NestFactory.create()
 * (and createMicroservice, createApplicationContext) called by the app's code
 * records the module it was given and returns a promise that never settles,
 * so the app's bootstrap stops there and nothing listens. Applied to the
 * @nestjs/core this file loads and to the one each of `files` resolves, should
 * the app have its own copy.
 */
export function guardNestFactory(files: Array<string | undefined>): void {
  const factories: unknown[] = [NestFactory];
  for (const file of files) {
    if (!file) continue;
    try {
      factories.push(createRequire(file)('@nestjs/core').NestFactory);
    } catch {
      // @nestjs/core is not resolvable from there: the app uses ours
    }
  }
  for (const factory of factories) {
    if (!factory || typeof factory !== 'object' || guarded.has(factory)) continue;
    guarded.add(factory);
    for (const method of GUARDED_METHODS) {
      (factory as Record<string, unknown>)[method] = (module: unknown) => {
        started.push(module);
        for (const notify of onStart.splice(0)) notify();
        return new Promise(() => undefined);
      };
    }
  }
}

/**
 * The second line of defence, for an app whose @nestjs/core is bundled (so
 * the guard above cannot reach its NestFactory): no server listens in a
 * worker process. The app's bootstrap then fails there with this error,
 * which the worker process reports as the reason it died.
 */
export function refuseListen(): void {
  net.Server.prototype.listen = function refused(this: net.Server, ...args: unknown[]): never {
    const port = typeof args[0] === 'object' ? (args[0] as { port?: unknown } | null)?.port : args[0];
    throw new Error(
      `a nest-oban worker process never starts the app, but something tried to listen on ${String(port ?? 'a port')} ` +
        `in it: a file it loaded starts a server as it loads (the program's entry of a bundle, or one with ` +
        `@nestjs/core bundled in). Start servers inside bootstrap(), after NestFactory.create(); keep ` +
        `node_modules external in the bundler's config (webpack-node-externals, as nest build --webpack does); ` +
        `or set processes: 0`,
    );
  } as typeof net.Server.prototype.listen;
}

/**
 * Loads the program's entry file (a bundle: every module of the app is in
 * it, none exported) with NestFactory guarded, and returns the root module
 * the app's bootstrap handed NestFactory. An ESM entry never finishes loading
 * then (its top-level await waits on the guarded call), so the call is what
 * is waited for.
 */
export async function rootsStartedBy(entryFile: string, hostModules: string[]): Promise<ModuleRef[]> {
  guardNestFactory([entryFile]);
  let exported: ModuleRef[] = [];
  const roots = () => [...new Set([...started.filter(isModule), ...exported])];
  const called = new Promise<void>((resolve) => (started.length > 0 ? resolve() : onStart.push(resolve)));
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, ENTRY_START_TIMEOUT_MS)));
  const loaded = loadFile(entryFile).then(
    (exports) => {
      exported = Object.values(exports).filter((v): v is ModuleRef => isModule(v) && importsOban(v as ModuleRef));
    },
    (error: Error) => {
      throw new Error(
        `loading ${entryFile} (the program's entry, where ObanModule.forRoot() is called) failed: ${error.message}`,
      );
    },
  );
  try {
    // A CommonJS bundle calls NestFactory while it loads; one whose bootstrap awaits something first, soon after;
    // one that exports its root module needs no call.
    await Promise.race([
      called,
      loaded.then(() => (exported.length > 0 ? undefined : Promise.race([called, timedOut]))),
      timedOut,
    ]);
  } finally {
    clearTimeout(timer);
  }
  if (roots().length === 0) {
    throw new Error(
      `module ${hostModules.join(', ')} is only in ${entryFile}, the program's entry (a bundled build: webpack or ` +
        `rspack put every module in one file), and loading it there handed NestFactory no module within ` +
        `${ENTRY_START_TIMEOUT_MS} ms, so the worker process cannot find it. A worker process takes the app's ` +
        `modules from the entry's own NestFactory.create(AppModule) call, which must run whenever the file loads ` +
        `(the app does not start there), or from the root module the entry exports; otherwise build without ` +
        `bundling (nest build with tsc or swc), or set processes: 0`,
    );
  }
  return roots();
}
