import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { ObanHealthIndicator } from '../../lib/health'; // in an app: 'nest-oban/health'

/**
 * Liveness and readiness, as Kubernetes probes (or any load balancer) use
 * them; 503 with the failing checks named when one is down.
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly oban: ObanHealthIndicator,
  ) {}

  /** Is this process alive (restart it if not)? Its node's heartbeat is fresh. */
  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([() => this.oban.isLive()]);
  }

  /** Should it get traffic? Database, LISTEN, leader, worker processes, and welcome emails not waiting over a minute. */
  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([() => this.oban.isReady({ backlog: { mail: 60_000 } })]);
  }

  /** Both at once, for a person looking. */
  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.oban.isLive(), () => this.oban.isReady({ backlog: { mail: 60_000 } })]);
  }
}
