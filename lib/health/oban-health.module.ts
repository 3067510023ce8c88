import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { ObanHealthIndicator } from './oban-health.indicator';

/**
 * Import it in the module of your health controller: it provides
 * `ObanHealthIndicator` and re-exports `TerminusModule` (so
 * `HealthCheckService` is injectable there too).
 */
@Module({
  imports: [TerminusModule],
  providers: [ObanHealthIndicator],
  exports: [ObanHealthIndicator, TerminusModule],
})
export class ObanHealthModule {}
