import { type DynamicModule, Module } from '@nestjs/common';
import { OBAN_METRICS_OPTIONS, ObanMetrics, type ObanMetricsOptions } from './oban-metrics';

/**
 * Registers nest-oban's Prometheus metrics on the app's registry (prom-client's
 * global `register` unless `registry` is given):
 *
 *   @Module({ imports: [ObanModule.forRoot({ ... }), ObanMetricsModule.forRoot()] })
 */
@Module({})
export class ObanMetricsModule {
  static forRoot(options: ObanMetricsOptions = {}): DynamicModule {
    return {
      module: ObanMetricsModule,
      providers: [{ provide: OBAN_METRICS_OPTIONS, useValue: options }, ObanMetrics],
      exports: [ObanMetrics],
    };
  }
}
