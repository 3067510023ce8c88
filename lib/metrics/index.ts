/**
 * nest-oban/metrics: Prometheus metrics through `prom-client` (an optional
 * peer dependency: only an app that imports this entry needs it installed).
 *
 *   @Module({ imports: [ObanModule.forRoot({ ... }), ObanMetricsModule.forRoot()] })
 */
export { ObanMetrics, type ObanMetricsOptions } from './oban-metrics';
export { ObanMetricsModule } from './oban-metrics.module';
