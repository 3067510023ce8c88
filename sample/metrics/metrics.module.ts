import { Module } from '@nestjs/common';
import { ObanMetricsModule } from '../../lib/metrics'; // in an app: 'nest-oban/metrics'
import { MetricsController } from './metrics.controller';

/** nest-oban's metrics on prom-client's global registry, served at GET /metrics. */
@Module({
  imports: [ObanMetricsModule.forRoot({ stateInterval: 15_000 })],
  controllers: [MetricsController],
})
export class MetricsModule {}
