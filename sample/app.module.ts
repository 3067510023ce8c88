import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ObanModule } from '../lib';
import { ObanDashboardModule } from '../lib/dashboard';
import { databaseUrl, typeOrmOptions } from './database';
import { HealthModule } from './health/health.module';
import { MetricsModule } from './metrics/metrics.module';
import { ReportsModule } from './reports/reports.module';
import { UsersModule } from './users/users.module';

/**
 * The sample app. With DATABASE_URL unset, both TypeORM and nest-oban run on
 * the embedded PGlite database in ./.pglite (one process at a time).
 */
@Module({
  imports: [
    TypeOrmModule.forRoot(typeOrmOptions()),
    ObanModule.forRoot({
      connection: databaseUrl, // unset: embedded PGlite
      migrate: true,
      queues: { mail: 10, heavy: 8 }, // env OBAN_QUEUES overrides
      // processes: env OBAN_PRO_PROCESSES, else one per CPU core
    }),
    UsersModule,
    ReportsModule,
    HealthModule, // GET /health, /health/live, /health/ready
    MetricsModule, // GET /metrics (Prometheus)
    // GET /oban: the dashboard. A development app: it answers requests from this machine only.
    ObanDashboardModule.forRoot({ path: '/oban', authorize: fromThisMachine }),
  ],
})
export class AppModule {}

/** True for a request from the loopback interface (Express's and Fastify's requests alike). */
export function fromThisMachine(request: any): boolean {
  const address: string | undefined = request.socket?.remoteAddress ?? request.raw?.socket?.remoteAddress;
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}
