import 'reflect-metadata';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { type INestApplicationContext, Logger, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { parseQueueString } from '../config/config';
import { setLaunchOverrides } from '../config/launch-overrides';
import { ObanRuntime } from '../oban.runtime';
import { loadFile } from '../util/load-file';
import { UsageError, integerFlag, stringFlag } from './args';
import type { CliContext, Command } from './command';

function isNestModule(value: unknown): value is Type {
  return (
    typeof value === 'function' && (Reflect.hasMetadata('imports', value) || Reflect.hasMetadata('providers', value))
  );
}

/** The module class `--module` (and `--export`) name, or a usage error saying what the file holds. */
export async function findModule(file: string, exportName: string | undefined, cwd: string): Promise<Type> {
  const resolved = path.resolve(cwd, file);
  if (!existsSync(resolved)) throw new UsageError(`nest-oban start: --module ${file}: no such file (${resolved})`);
  let exports: Record<string, unknown>;
  try {
    exports = await loadFile(resolved);
  } catch (error) {
    throw new UsageError(`nest-oban start: --module ${file}: loading it failed: ${(error as Error).message}`);
  }
  const modules = Object.entries(exports).filter(([, value]) => isNestModule(value));
  const names = modules.map(([name]) => name).join(', ') || 'none';
  if (exportName !== undefined) {
    const found = exports[exportName];
    if (!isNestModule(found)) {
      throw new UsageError(
        `nest-oban start: --export ${exportName}: ${file} exports no Nest module of that name (its modules: ${names})`,
      );
    }
    return found;
  }
  if (modules.length !== 1) {
    throw new UsageError(
      `nest-oban start: --module ${file} exports ${modules.length === 0 ? 'no Nest module' : `several Nest modules (${names})`}; ` +
        `${modules.length === 0 ? 'export the module class' : 'name one with --export'}`,
    );
  }
  return modules[0][1] as Type;
}

/** Resolves once the process receives SIGTERM or SIGINT; a second signal exits at once. */
function untilSignal(logger: Logger): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const first = (signal: NodeJS.Signals) => {
      process.removeListener('SIGTERM', first);
      process.removeListener('SIGINT', first);
      const again = (second: NodeJS.Signals) => {
        logger.warn(`${second} again: exiting now, without waiting for running jobs`);
        process.exit(1);
      };
      process.once('SIGTERM', again);
      process.once('SIGINT', again);
      resolve(signal);
    };
    process.once('SIGTERM', first);
    process.once('SIGINT', first);
  });
}

export const startCommand: Command = {
  name: 'start',
  usage:
    'nest-oban start --module <file> [--export <name>] [--queues <q:n,...>] [--processes <n>] [--node <name>] [--grace <ms>]',
  summary:
    'Runs a worker node without HTTP: boots a Nest application context of the module (which imports ' +
    'ObanModule.forRoot() or forRootAsync(), as in the app), runs its queues until SIGTERM or SIGINT, then ' +
    'closes the context: running jobs get the grace period, teardown hooks run. The flags override the ' +
    "module's options (and env OBAN_QUEUES); the rest (DATABASE_URL, ...) is read by the module as always.",
  flags: [
    { name: 'module', value: 'file', help: 'the built module file, e.g. dist/worker.module.js (required)' },
    { name: 'export', value: 'name', help: 'the module class exported by that file (default: its only module)' },
    {
      name: 'queues',
      value: 'q:n,...',
      help: "queues to run and their limits, e.g. default:20,heavy:8 ('' runs none)",
    },
    { name: 'processes', value: 'n', help: 'worker processes for cpu: true workers (0: in this process)' },
    { name: 'node', value: 'name', help: "this node's name (default host:pid:random)" },
    { name: 'grace', value: 'ms', help: 'ms running jobs get to finish at shutdown (shutdownGracePeriod)' },
  ],
  async run(flags, context: CliContext) {
    const file = stringFlag(flags, 'module');
    if (file === undefined)
      throw new UsageError('nest-oban start: --module <file> is required (the built module file)');
    const queues = stringFlag(flags, 'queues');
    if (queues !== undefined) {
      try {
        parseQueueString(queues, '--queues');
      } catch (error) {
        throw new UsageError(`nest-oban start: ${(error as Error).message.replace(/^ObanModule: /, '')}`);
      }
    }
    setLaunchOverrides({
      queues,
      processes: integerFlag('start', flags, 'processes', 0),
      node: stringFlag(flags, 'node'),
      shutdownGracePeriod: integerFlag('start', flags, 'grace', 0),
    });
    const module = await findModule(file, stringFlag(flags, 'export'), context.cwd);
    const logger = new Logger('nest-oban');
    const signal = untilSignal(logger);
    const app: INestApplicationContext = await NestFactory.createApplicationContext(module, { abortOnError: false });
    try {
      app.get(ObanRuntime, { strict: false });
    } catch {
      await app.close();
      throw new UsageError(
        `nest-oban start: ${module.name} (${file}) does not import ObanModule.forRoot() or forRootAsync(); add it to its imports`,
      );
    }
    logger.log(`${module.name} from ${file} is running; stop with SIGTERM or Ctrl-C`);
    const received = await signal;
    logger.log(`${received}: stopping (running jobs get their grace period, then teardown hooks run)`);
    await app.close();
    logger.log('stopped');
    return 0;
  },
};
