import { Controller, type DynamicModule, Module, UseGuards } from '@nestjs/common';
import { DashboardAccessGuard } from './access.guard';
import { DashboardController } from './dashboard.controller';
import { DashboardService } from './dashboard.service';
import { TrailingSlashRedirect } from './trailing-slash';
import { OBAN_DASHBOARD_CONFIG, type ObanDashboardOptions, resolveDashboardOptions } from './options';

/**
 * The web dashboard, mounted in the app at `path`:
 *
 *   @Module({ imports: [ObanModule.forRoot({ ... }), ObanDashboardModule.forRoot({ path: '/oban', guards: [AdminGuard] })] })
 *
 * Nothing is served to anyone until `guards`, `authorize` or `public: true` is given.
 */
@Module({})
export class ObanDashboardModule {
  static forRoot(options: ObanDashboardOptions = {}): DynamicModule {
    const config = resolveDashboardOptions(options);
    // A controller class of its own per mount, so its path comes from the options (and two mounts can coexist).
    class MountedDashboardController extends DashboardController {}
    Controller(config.path)(MountedDashboardController);
    UseGuards(DashboardAccessGuard)(MountedDashboardController);
    return {
      module: ObanDashboardModule,
      controllers: [MountedDashboardController],
      providers: [
        { provide: OBAN_DASHBOARD_CONFIG, useValue: config },
        DashboardService,
        DashboardAccessGuard,
        TrailingSlashRedirect,
      ],
      exports: [DashboardService],
    };
  }
}
