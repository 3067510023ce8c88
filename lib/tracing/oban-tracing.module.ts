import {
  type DynamicModule,
  Inject,
  Injectable,
  Module,
  type OnModuleDestroy,
  type OnModuleInit,
  Optional,
} from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import { ObanHooks } from '../events/hooks';
import { attemptHook, insertHook } from './tracing-hooks';

export interface ObanTracingOptions {
  /** The name of the tracer nest-oban's spans come from (default `nest-oban`). */
  tracerName?: string;
  /** Its version, recorded as the instrumentation scope's version. */
  tracerVersion?: string;
}

const OBAN_TRACING_OPTIONS = Symbol('OBAN_TRACING_OPTIONS');

/**
 * Registers the tracing hooks into this node's `ObanHooks` on init (and
 * removes them on destroy). The tracer comes from the global tracer provider,
 * so the app registers its OpenTelemetry SDK as usual.
 */
@Injectable()
export class ObanTracing implements OnModuleInit, OnModuleDestroy {
  private unregister: (() => void) | undefined;

  constructor(
    @Inject(OBAN_TRACING_OPTIONS) private readonly options: ObanTracingOptions,
    // Absent in a worker process, whose jobs run in the context the main process sends.
    @Optional() @Inject(ObanHooks) private readonly hooks?: ObanHooks,
  ) {}

  onModuleInit(): void {
    if (!this.hooks) return;
    const tracer = trace.getTracer(this.options.tracerName ?? 'nest-oban', this.options.tracerVersion);
    this.unregister = this.hooks.register({ insert: insertHook(tracer), attempt: attemptHook(tracer) });
  }

  onModuleDestroy(): void {
    this.unregister?.();
    this.unregister = undefined;
  }
}

/**
 * OpenTelemetry spans for nest-oban: a producer span per insert (its context
 * stored in the job's meta) and a consumer span per attempt that continues it.
 *
 *   imports: [ObanModule.forRoot({ ... }), ObanTracingModule.forRoot()]
 */
@Module({})
export class ObanTracingModule {
  static forRoot(options: ObanTracingOptions = {}): DynamicModule {
    return {
      module: ObanTracingModule,
      providers: [{ provide: OBAN_TRACING_OPTIONS, useValue: { ...options } }, ObanTracing],
      exports: [ObanTracing],
    };
  }
}
