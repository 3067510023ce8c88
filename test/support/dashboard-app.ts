import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { type CanActivate, type ExecutionContext, type INestApplication, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { type Job, Oban, ObanModule, type ObanModuleOptions, Worker } from '../../lib';
import { type DashboardDecision, ObanDashboardModule, type ObanDashboardOptions } from '../../lib/dashboard';
import { DATABASE_URL } from './db';

/** Fails every attempt, with a stack: its jobs end `discarded` after their attempts. */
@Worker({ queue: 'alpha', maxAttempts: 1 })
export class FlakyReportWorker {
  perform(job: Job<{ n: number }>) {
    throw new Error(`report ${job.args.n} failed: upstream timed out`);
  }
}

/** Completes at once, returning a result the dashboard shows. */
@Worker({ queue: 'alpha' })
export class WelcomeMailWorker {
  perform(job: Job<{ email: string }>) {
    return { sent: job.args.email };
  }
}

/** Runs until told to stop or cancelled (`ms` caps it): keeps jobs `executing`. */
@Worker({ queue: 'beta' })
export class LongExportWorker {
  perform(job: Job<{ ms: number }>, { signal }: { signal: AbortSignal }) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, job.args.ms);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve('aborted');
      });
    });
  }
}

/**
 * The access the tests use: the `x-role` header names the viewer. `admin`
 * may do everything, `viewer` only read, `retrier` read and retry,
 * `operator` everything on queues; anyone else is refused.
 */
export function roleAccess(request: any): DashboardDecision {
  const role = request.headers['x-role'];
  if (role === 'admin') return true;
  if (role === 'viewer') return { read: true };
  if (role === 'retrier') return { retry: true };
  if (role === 'operator') return { pause: true, scale: true };
  return false;
}

/** A guard of the app's own, resolved by the dashboard from the app (a provider here). */
@Injectable()
export class TokenGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    return context.switchToHttp().getRequest().headers['x-token'] === 'let-me-in';
  }
}

export interface DashboardApp {
  app: INestApplication;
  oban: Oban;
  base: string;
  /** A request to the dashboard's API (`path` below `/api/`), as `role`. */
  api(
    method: string,
    path: string,
    options?: { role?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<{
    status: number;
    body: any;
  }>;
  close(): Promise<void>;
}

export interface DashboardAppOptions {
  prefix: string;
  adapter?: 'express' | 'fastify';
  dashboard?: ObanDashboardOptions;
  oban?: ObanModuleOptions;
}

/** Boots an app with nest-oban and the dashboard at /oban, serving HTTP on a free port. */
export async function bootDashboardApp(options: DashboardAppOptions): Promise<DashboardApp> {
  @Module({
    imports: [
      ObanModule.forRoot({
        connection: DATABASE_URL,
        prefix: options.prefix,
        migrate: true,
        processes: 0,
        queues: { alpha: 5, beta: 2 },
        stageInterval: 100,
        heartbeatInterval: 200,
        nodeTtl: 2_000,
        ...options.oban,
      }),
      ObanDashboardModule.forRoot({ path: '/oban', authorize: roleAccess, ...options.dashboard }),
    ],
    providers: [FlakyReportWorker, WelcomeMailWorker, LongExportWorker, TokenGuard],
  })
  class DashboardTestModule {}

  const app =
    options.adapter === 'fastify'
      ? await NestFactory.create(DashboardTestModule, new FastifyAdapter(), { logger: ['error'], abortOnError: false })
      : await NestFactory.create(DashboardTestModule, { logger: ['error'], abortOnError: false });
  await app.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}/oban`;
  const api: DashboardApp['api'] = async (method, path, { role = 'admin', body, headers = {} } = {}) => {
    const response = await fetch(`${base}/api/${path}`, {
      method,
      headers: {
        ...(role ? { 'x-role': role } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: kept as text
    }
    return { status: response.status, body: parsed };
  };
  return { app, oban: app.get(Oban), base, api, close: () => app.close() };
}
