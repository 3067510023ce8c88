/**
 * nest-oban/health: `ObanHealthIndicator` for `@nestjs/terminus` (an optional
 * peer dependency: only an app that imports this entry needs it installed).
 *
 *   @Module({ imports: [ObanHealthModule], controllers: [HealthController] })
 */
export {
  ObanHealthIndicator,
  type ObanCheckOptions,
  type ObanLivenessOptions,
  type ObanReadinessOptions,
} from './oban-health.indicator';
export { ObanHealthModule } from './oban-health.module';
