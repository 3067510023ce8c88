import {
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
  SetMetadata,
  type Type,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { isObservable, lastValueFrom } from 'rxjs';
import {
  type DashboardAction,
  type DashboardConfig,
  type DashboardPermissions,
  OBAN_DASHBOARD_CONFIG,
  permissionsOf,
} from './options';

const REQUIRES = 'nest-oban:dashboard-requires';
/** Where the guard leaves the request's permissions for the handlers. */
export const PERMISSIONS = Symbol.for('nest-oban.dashboard-permissions');

/** The permission a route needs beyond `read` (routes without it need `read` only). */
export const Requires = (action: DashboardAction) => SetMetadata(REQUIRES, action);

/**
 * Every dashboard request passes here: the app's guards first, then
 * `authorize`; nothing passes when neither is configured and `public` is not
 * set. A request that changes something must be JSON (a cross-site form
 * cannot send that without the browser asking first).
 */
@Injectable()
export class DashboardAccessGuard implements CanActivate {
  private readonly resolved = new Map<Type<CanActivate>, CanActivate>();

  constructor(
    @Inject(OBAN_DASHBOARD_CONFIG) private readonly config: DashboardConfig,
    @Inject(ModuleRef) private readonly moduleRef: ModuleRef,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest();
    const { guards, authorize } = this.config;
    if (guards.length === 0 && authorize === undefined && !this.config.public) {
      throw new ForbiddenException(
        'the Oban dashboard exposes nothing until ObanDashboardModule.forRoot() is given guards, authorize, or public: true',
      );
    }
    for (const guard of guards) {
      const instance = typeof guard === 'function' ? await this.instanceOf(guard) : guard;
      let passed = instance.canActivate(context);
      if (isObservable(passed)) passed = lastValueFrom(passed);
      if (!(await passed)) throw new ForbiddenException('the Oban dashboard: refused by a guard');
    }
    const permissions = permissionsOf(authorize ? await authorize(request) : true, this.config.readOnly);
    if (!permissions.read) throw new ForbiddenException('the Oban dashboard: not authorized');
    request[PERMISSIONS] = permissions;

    const required = Reflect.getMetadata(REQUIRES, context.getHandler()) as DashboardAction | undefined;
    if (required !== undefined && !permissions[required]) {
      throw new ForbiddenException(
        this.config.readOnly ? 'the Oban dashboard is read-only' : `the Oban dashboard: not allowed to ${required}`,
      );
    }
    if (request.method === 'POST' && !String(request.headers['content-type'] ?? '').startsWith('application/json')) {
      throw new UnsupportedMediaTypeException('the Oban dashboard takes actions as application/json only');
    }
    return true;
  }

  private async instanceOf(type: Type<CanActivate>): Promise<CanActivate> {
    const known = this.resolved.get(type);
    if (known) return known;
    let instance: CanActivate;
    try {
      instance = this.moduleRef.get(type, { strict: false });
    } catch {
      instance = await this.moduleRef.create(type); // not a provider of the app: built with its providers
    }
    this.resolved.set(type, instance);
    return instance;
  }
}

/** The permissions the guard found for this request. */
export function permissionsOfRequest(request: any): DashboardPermissions {
  return request[PERMISSIONS];
}
