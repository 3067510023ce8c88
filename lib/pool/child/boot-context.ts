import 'reflect-metadata';
import { ConsoleLogger, type INestApplicationContext, type LogLevel, Module, type Type } from '@nestjs/common';
import { ObanRemoteModule } from '../../remote-oban';
import type { ObanWorker } from '../../worker/worker.interface';
import type { BootSpec, ModuleLocation } from '../protocol/messages';
import { createWorkerContext, guardNestFactory, refuseListen, rootsStartedBy } from './app-guard';
import { loadFile } from '../../util/load-file';
import { type ModuleRef, globalModules, importsOban, isModule, moduleClass, walk, workerClassIn } from './module-graph';

export interface BootedContext {
  app: INestApplicationContext;
  workers: Map<string, ObanWorker<any, any>>;
}

/** Nest's own boot chatter, repeated by every worker process; user log lines go through. */
const QUIET_CONTEXTS = new Set(['NestFactory', 'InstanceLoader', 'NestApplicationContext']);

class WorkerProcessLogger extends ConsoleLogger {
  override log(message: unknown, context?: string): void {
    if (context && QUIET_CONTEXTS.has(context)) return;
    super.log(message, context);
  }
}

/**
 * Boots, in a worker process, a Nest application context holding only the
 * modules that declare the cpu workers (plus the app's global modules), so
 * their providers are injected and their lifecycle hooks run once per process.
 */
export async function bootContext(spec: BootSpec): Promise<BootedContext> {
  const hosts = new Map<string, { module: ModuleRef; workerClass: Type }>();
  let globals: ModuleRef[] = [];

  // Never the app itself: its NestFactory calls in this process start nothing, and nothing listens.
  refuseListen();
  guardNestFactory([spec.rootFile, spec.entryFile, ...spec.workers.map((w) => w.hostLocation?.file)]);

  if (spec.rootFile || spec.entryFile) {
    const roots = spec.rootFile
      ? await exportedRoots(spec.rootFile)
      : await rootsStartedBy(spec.entryFile!, unique(spec.workers.map((w) => w.hostModule)));
    for (const root of roots) {
      const modules = await walk(root as ModuleRef);
      globals = spec.exclude
        ? await withoutExcluded(globalModules(modules), modules, spec.exclude)
        : globalModules(modules);
      for (const worker of spec.workers) {
        const module = modules.find((m) => moduleClass(m).name === worker.hostModule && workerClassIn(m, worker.name));
        if (module && !hosts.has(worker.name))
          hosts.set(worker.name, { module, workerClass: workerClassIn(module, worker.name)! });
      }
    }
  }

  for (const worker of spec.workers) {
    if (hosts.has(worker.name)) continue;
    if (!worker.hostLocation) {
      throw new Error(
        `cannot find module ${worker.hostModule}, which declares cpu worker ${worker.name}: ` +
          `export it from its file, and import it (directly or not) in the module that calls ObanModule.forRoot()`,
      );
    }
    const module = await loadExport(
      worker.hostLocation,
      `module ${worker.hostModule} (declares cpu worker ${worker.name})`,
    );
    const workerClass = isModule(module) ? workerClassIn(module, worker.name) : undefined;
    if (!workerClass) {
      throw new Error(
        `${worker.hostLocation.file} exports ${worker.hostModule}, but it does not declare worker ${worker.name}`,
      );
    }
    hosts.set(worker.name, { module: module as ModuleRef, workerClass });
  }

  const imports = unique([ObanRemoteModule.register(), ...globals, ...[...hosts.values()].map((h) => h.module)]);
  @Module({ imports })
  class ObanWorkerProcessModule {}

  const logger = new WorkerProcessLogger({ prefix: 'Oban worker', logLevels: spec.logLevels as LogLevel[] });
  const app = await createWorkerContext(ObanWorkerProcessModule, { logger, abortOnError: false });
  const workers = new Map<string, ObanWorker<any, any>>();
  for (const [name, { workerClass }] of hosts) {
    workers.set(name, app.get(workerClass, { strict: false }));
  }
  return { app, workers };
}

/** The global modules minus those `exclude` names and every module they import (TypeOrmModule's core module). */
async function withoutExcluded(globals: ModuleRef[], modules: ModuleRef[], exclude: string[]): Promise<ModuleRef[]> {
  const left = new Set<ModuleRef>();
  for (const name of exclude) {
    const named = modules.filter((m) => moduleClass(m).name === name);
    if (named.length === 0) {
      throw new Error(
        `processExclude: ${name} is not a module of the app (none of that name is imported from the root)`,
      );
    }
    for (const module of named) for (const reached of await walk(module)) left.add(reached);
  }
  return globals.filter((g) => !left.has(g));
}

/** The modules `file` exports that import ObanModule.forRoot(): the app's root modules. */
async function exportedRoots(file: string): Promise<ModuleRef[]> {
  const exports = await loadFile(file).catch((error: Error) => {
    throw new Error(`loading ${file} (where ObanModule.forRoot() is called) failed: ${error.message}`);
  });
  return Object.values(exports).filter((v): v is ModuleRef => isModule(v) && importsOban(v as ModuleRef));
}

async function loadExport(location: ModuleLocation, what: string): Promise<unknown> {
  const exports = await loadFile(location.file).catch((error: Error) => {
    throw new Error(`loading ${what} from ${location.file} failed: ${error.message}`);
  });
  return location.exportName === 'module.exports' ? exports : exports[location.exportName];
}

function unique<T>(items: T[]): T[] {
  return [...new Set(items)];
}
