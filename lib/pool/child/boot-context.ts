import 'reflect-metadata';
import { ConsoleLogger, type INestApplicationContext, type LogLevel, Module, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ObanRemoteModule } from '../../remote-oban';
import type { ObanWorker } from '../../worker/worker.interface';
import type { BootSpec, ModuleLocation } from '../protocol/messages';
import { loadFile } from './load-file';
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

  if (spec.rootFile) {
    const exports = await loadFile(spec.rootFile).catch((error: Error) => {
      throw new Error(`loading ${spec.rootFile} (where ObanModule.forRoot() is called) failed: ${error.message}`);
    });
    for (const root of Object.values(exports).filter((v) => isModule(v) && importsOban(v as ModuleRef))) {
      const modules = await walk(root as ModuleRef);
      globals = globalModules(modules);
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
  const app = await NestFactory.createApplicationContext(ObanWorkerProcessModule, { logger, abortOnError: false });
  const workers = new Map<string, ObanWorker<any, any>>();
  for (const [name, { workerClass }] of hosts) {
    workers.set(name, app.get(workerClass, { strict: false }));
  }
  return { app, workers };
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
