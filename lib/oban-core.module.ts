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
import { ObanEventsExplorer } from './events/events-explorer';
import { ObanHooks } from './events/hooks';
import { ObanEvents } from './events/oban-events';
import { logJobOutcomes } from './events/oban-logger';
import { Oban, type ObanInternals } from './oban.service';
import {
  OBAN_CONFIG,
  OBAN_DATABASE,
  OBAN_INTERNALS,
  OBAN_JOB_STORE,
  OBAN_MODULE_OPTIONS,
  OBAN_ROOT_FILE,
} from './oban.tokens';
import { InlineJobStore } from './queue/inline-job-store';
import { SignalBus } from './signals';
import { ClusterStore } from './store/cluster-store';
import { LiveQueues } from './store/live-queues';
import { PgJobStore } from './store/pg-job-store';
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
            const db = await connectDatabase({
              connection: config.connection,
              pgliteDir: config.pgliteDir,
              poolSize: config.poolSize,
              pooler: config.pooler,
              timeouts: { statement: config.statementTimeout, connect: config.connectTimeout },
              none: config.testing === 'inline' && config.connection === undefined,
              logger: config.logger,
            });
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
          provide: ClusterStore,
          useFactory: (db: Database, config: ObanConfig) => new ClusterStore(db, buildClusterStatements(config.prefix)),
          inject: [OBAN_DATABASE, OBAN_CONFIG],
        },
        {
          provide: PgJobStore,
          useFactory: (db: Database, config: ObanConfig, cluster: ClusterStore) =>
            new PgJobStore(db, buildStatements(config.prefix), new LiveQueues(cluster)),
          inject: [OBAN_DATABASE, OBAN_CONFIG, ClusterStore],
        },
        {
          provide: OBAN_JOB_STORE,
          useFactory: (config: ObanConfig, jobs: PgJobStore, registry: WorkerRegistry) =>
            config.testing === 'inline'
              ? new InlineJobStore(registry, config.node, config.logger, jobs, config.maxResultBytes)
              : jobs,
          inject: [OBAN_CONFIG, PgJobStore, WorkerRegistry],
        },
        {
          provide: OBAN_INTERNALS,
          useFactory: (
            config: ObanConfig,
            db: Database,
            jobs: PgJobStore,
            registry: WorkerRegistry,
            cluster: ClusterStore,
            signals: SignalBus,
            events: ObanEvents,
            hooks: ObanHooks,
          ): ObanInternals => ({ config, db, jobs, registry, cluster, signals, events, hooks }),
          inject: [
            OBAN_CONFIG,
            OBAN_DATABASE,
            PgJobStore,
            WorkerRegistry,
            ClusterStore,
            SignalBus,
            ObanEvents,
            ObanHooks,
          ],
        },
        // Empty unless an integration (nest-oban/tracing) registers into it.
        { provide: ObanHooks, useFactory: () => new ObanHooks() },
        {
          provide: ObanEvents,
          useFactory: (config: ObanConfig) => {
            const events = new ObanEvents(config.node, config.logger);
            if (config.logJobs) logJobOutcomes(events, config.logger);
            return events;
          },
          inject: [OBAN_CONFIG],
        },
        ObanEventsExplorer,
        WorkerRegistry,
        SignalBus,
        Oban,
        DatabaseCloser,
      ],
      exports: [
        Oban,
        ObanEvents,
        ObanHooks,
        OBAN_CONFIG,
        OBAN_DATABASE,
        OBAN_ROOT_FILE,
        PgJobStore,
        ClusterStore,
        WorkerRegistry,
        SignalBus,
      ],
    };
  }
}
