import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { OBAN_DASHBOARD_CONFIG, type DashboardConfig } from './options';

/**
 * `/oban/` reaches the page on Fastify too. Express matches a path with or
 * without its trailing slash; Fastify (unless the app sets
 * `ignoreTrailingSlash`) answers 404 for `/oban/`, which is how people type
 * it. So, on Fastify only, a GET of the page's path plus `/` (after whatever
 * global prefix the app has) is redirected to the page. Nest's routes cannot
 * say this: it strips the trailing slash of every route path.
 */
@Injectable()
export class TrailingSlashRedirect implements OnModuleInit {
  constructor(
    @Inject(HttpAdapterHost) private readonly host: HttpAdapterHost,
    @Inject(OBAN_DASHBOARD_CONFIG) private readonly config: DashboardConfig,
  ) {}

  onModuleInit(): void {
    const adapter = this.host?.httpAdapter;
    if (!adapter || adapter.getType() !== 'fastify' || this.config.path === '/') return;
    const withSlash = `${this.config.path}/`;
    const fastify = adapter.getInstance() as {
      addHook(name: 'onRequest', hook: (request: any, reply: any, done: () => void) => void): void;
    };
    fastify.addHook('onRequest', (request, reply, done) => {
      const url = String(request.url ?? '');
      const query = url.indexOf('?');
      const pathname = query === -1 ? url : url.slice(0, query);
      if ((request.method !== 'GET' && request.method !== 'HEAD') || !pathname.endsWith(withSlash)) return done();
      reply
        .code(302)
        .header('location', pathname.slice(0, -1) + (query === -1 ? '' : url.slice(query)))
        .send();
    });
  }
}
