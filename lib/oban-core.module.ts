import {
  type DynamicModule,
  Global,
  Inject,
  Injectable,
  Module,
  type OnApplicationShutdown,
  type Provider,
} from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { type ObanConfig, resolveConfig } from './config/config';
import type { ObanModuleOptions } from './config/options';
import { connectDatabase } from './db/connect';
import type { Database } from './db/database';
import { assertSchemaCurrent, migrate } from './db/migrate';
import { buildClusterStatements } from './db/cluster-statements';
import { buildStatements } from './db/statements';
import { ClusterEngine } from './engine/cluster-engine';
import { Engine } from './engine/engine';
import { Oban } from './oban.service';
import { OBAN_CONFIG, OBAN_DATABASE, OBAN_MODULE_OPTIONS, OBAN_ROOT_FILE } from './oban.tokens';
import { SignalBus } from './signals';
import { WorkerRegistry } from './worker/worker-registry';

/** Closes the database last, after every module that might still use it. */
@Injectable()
class DatabaseCloser implements OnApplicationShutdown {
  constructor(@Inject(OBAN_DATABASE) private readonly db: Database) {}

  async onApplicationShutdown(): Promise<void> {
    await this.db.close();
  }
}

/**
 * The global half of ObanModule: config, database, worker registry and the
 * `Oban` service, injectable anywhere. It initialises first (the schema is
 * ready before any module's hooks insert) and closes last.
 */
@Global()
@Module({})
export class ObanCoreModule {
  static register(optionsProviders: Provider[], rootFile: string | undefined, imports: any[] = []): DynamicModule {
    return {
      module: ObanCoreModule,
      imports: [DiscoveryModule, ...imports],
      providers: [
        ...optionsProviders,
        { provide: OBAN_ROOT_FILE, useValue: rootFile },
        {
          provide: OBAN_CONFIG,
          useFactory: (options: ObanModuleOptions) => resolveConfig(options),
          inject: [OBAN_MODULE_OPTIONS],
        },
        {
          provide: OBAN_DATABASE,
          useFactory: async (config: ObanConfig) => {
            const db = await connectDatabase(config);
            try {
              if (db.kind === 'none') return db;
              // Nobody else can migrate an embedded database: do it here.
              if (config.migrate || db.kind === 'pglite') await migrate(db, config.prefix);
              else await assertSchemaCurrent(db, config.prefix);
            } catch (error) {
              await db.close().catch(() => undefined);
              throw error;
            }
            return db;
          },
          inject: [OBAN_CONFIG],
        },
        {
          provide: Engine,
          useFactory: (db: Database, config: ObanConfig) => new Engine(db, buildStatements(config.prefix)),
          inject: [OBAN_DATABASE, OBAN_CONFIG],
        },
        {
          provide: ClusterEngine,
          useFactory: (db: Database, config: ObanConfig) =>
            new ClusterEngine(db, buildClusterStatements(config.prefix)),
          inject: [OBAN_DATABASE, OBAN_CONFIG],
        },
        WorkerRegistry,
        SignalBus,
        Oban,
        DatabaseCloser,
      ],
      exports: [Oban, OBAN_CONFIG, OBAN_DATABASE, OBAN_ROOT_FILE, Engine, ClusterEngine, WorkerRegistry, SignalBus],
    };
  }
}
