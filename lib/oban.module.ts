import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import type { ObanModuleAsyncOptions, ObanModuleOptions, ObanOptionsFactory } from './config/options';
import { ObanConfigError } from './errors';
import { ObanCoreModule } from './oban-core.module';
import { ObanRuntime } from './oban.runtime';
import { OBAN_MODULE_OPTIONS, OBAN_NODE } from './oban.tokens';
import { ObanRemoteModule } from './remote-oban';
import { stopFirstProvider } from './shutdown-order';
import { callerFile } from './util/caller-file';
import { isWorkerProcess } from './util/process-role';

/**
 * Import once, in the root module:
 *
 *   ObanModule.forRoot({ connection: process.env.DATABASE_URL, queues: { default: 10 } })
 *
 * `Oban` is then injectable everywhere, and every `@Worker()` provider of the
 * app runs on the queues this node is given. Inside a pool process (where
 * `cpu: true` jobs run) it provides only an `Oban` that forwards to the main
 * process.
 */
@Module({})
export class ObanModule {
  static forRoot(options: ObanModuleOptions = {}): DynamicModule {
    if (isWorkerProcess()) return ObanRemoteModule.register();
    return ObanModule.build({ provide: OBAN_MODULE_OPTIONS, useValue: options }, callerFile(), []);
  }

  static forRootAsync(options: ObanModuleAsyncOptions): DynamicModule {
    if (isWorkerProcess()) return ObanRemoteModule.register();
    return ObanModule.build(asyncOptionsProvider(options), callerFile(), options.imports ?? [], options);
  }

  private static build(
    optionsProvider: Provider,
    rootFile: string | undefined,
    imports: any[],
    async?: ObanModuleAsyncOptions,
  ): DynamicModule {
    const extra: Provider[] = async?.useClass ? [{ provide: async.useClass, useClass: async.useClass }] : [];
    return {
      module: ObanModule,
      imports: [ObanCoreModule.register([optionsProvider, ...extra], rootFile, imports)],
      providers: [ObanRuntime, { provide: OBAN_NODE, useExisting: ObanRuntime }, stopFirstProvider(ObanModule)],
      exports: [ObanRuntime, OBAN_NODE],
    };
  }
}

function asyncOptionsProvider(options: ObanModuleAsyncOptions): Provider {
  if (options.useFactory) {
    return { provide: OBAN_MODULE_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] };
  }
  const factoryClass = options.useClass ?? options.useExisting;
  if (!factoryClass) {
    throw new ObanConfigError('ObanModule.forRootAsync: give useFactory, useClass or useExisting');
  }
  return {
    provide: OBAN_MODULE_OPTIONS,
    useFactory: (factory: ObanOptionsFactory) => factory.createObanOptions(),
    inject: [factoryClass],
  };
}
