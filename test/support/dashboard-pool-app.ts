import { Module } from '@nestjs/common';
import { type Job, ObanModule, type ObanModuleOptions, Worker } from '../../lib';
import { ObanDashboardModule } from '../../lib/dashboard';

/** Options for the next boot; forRootAsync reads them only in the main process. */
export const dashboardPoolOptions: { current: ObanModuleOptions } = { current: {} };

/** Runs in a worker process: its result names the process. */
@Worker({ queue: 'pids', cpu: true })
export class DashboardPidWorker {
  perform(_job: Job) {
    return { pid: process.pid };
  }
}

/**
 * A root module in its own file (worker processes load this file and walk
 * its imports), with the dashboard open to the test (`public: true`).
 */
@Module({
  imports: [
    ObanModule.forRootAsync({ useFactory: () => dashboardPoolOptions.current }),
    ObanDashboardModule.forRoot({ path: '/oban', public: true, refreshInterval: 100 }),
  ],
  providers: [DashboardPidWorker],
})
export class DashboardPoolAppModule {}
