/**
 * nest-oban/dashboard: a web dashboard of queues, jobs, nodes and activity,
 * served by the app itself (Express or Fastify):
 *
 *   @Module({ imports: [ObanDashboardModule.forRoot({ path: '/oban', guards: [AdminGuard] })] })
 */
export { ObanDashboardModule } from './dashboard.module';
export { DashboardService, type ActionResult, type BulkResult } from './dashboard.service';
export type { JobFilter } from './job-filter';
export type { FilterCount, JobPage } from './dashboard-store';
export type { DashboardSnapshot, QueueSummary, NodeSummary, Activity } from './snapshot';
export type { DashboardAction, DashboardDecision, DashboardPermissions, ObanDashboardOptions } from './options';
