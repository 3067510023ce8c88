import { Controller, Get, Header } from '@nestjs/common';
import { register } from 'prom-client';
import { ObanMetrics } from '../../lib/metrics'; // in an app: 'nest-oban/metrics'

/** Prometheus scrapes it: every metric of the app's registry, nest-oban's included, in the text format. */
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: ObanMetrics) {}

  @Get()
  @Header('Content-Type', register.contentType)
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
