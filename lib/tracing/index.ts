/**
 * nest-oban/tracing: OpenTelemetry spans for inserts and attempts
 * (`@opentelemetry/api` is an optional peer dependency: only an app that
 * imports this entry needs it installed).
 *
 *   @Module({ imports: [ObanModule.forRoot({ ... }), ObanTracingModule.forRoot()] })
 */
export { ObanTracing, ObanTracingModule, type ObanTracingOptions } from './oban-tracing.module';
export { MESSAGING_SYSTEM } from './tracing-hooks';
