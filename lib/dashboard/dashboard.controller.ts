import {
  BadRequestException,
  Body,
  ForbiddenException,
  Get,
  Header,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  Post,
  Query,
  Req,
} from '@nestjs/common';
import { ObanValidationError } from '../errors';
import { JOB_STATES } from '../job';
import { permissionsOfRequest, Requires } from './access.guard';
import { type DashboardAsset, asset, indexPage } from './assets';
import { DashboardService, MAX_SELECTION } from './dashboard.service';
import { parseJobFilter, parseWhole } from './job-filter';
import { JOB_ACTIONS, type JobAction } from './options';

const PAGE_DEFAULT = 50;
const PAGE_MAX = 200;
/** The page and its files run nothing from elsewhere: no CDN, no inline script. */
const CSP = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * The dashboard's routes, below the configured path (ObanDashboardModule
 * gives this class its path and guard). Plain Nest decorators only, so the
 * Express and Fastify adapters serve it alike.
 */
export class DashboardController {
  constructor(@Inject(DashboardService) private readonly dashboard: DashboardService) {}

  @Get()
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('content-security-policy', CSP)
  @Header('cache-control', 'no-store')
  page(@Req() request: any): string {
    return indexPage(baseOf(request));
  }

  @Get('assets/app.js')
  @Header('content-type', 'text/javascript; charset=utf-8')
  @Header('cache-control', 'no-cache')
  script(): string {
    return asset('app.js' satisfies DashboardAsset);
  }

  @Get('assets/app.css')
  @Header('content-type', 'text/css; charset=utf-8')
  @Header('cache-control', 'no-cache')
  style(): string {
    return asset('app.css' satisfies DashboardAsset);
  }

  /** What this viewer may do, and the settings the page needs. */
  @Get('api/me')
  me(@Req() request: any) {
    const { readOnly, refreshInterval } = this.dashboard.config;
    return { permissions: permissionsOfRequest(request), readOnly, refreshInterval, states: JOB_STATES };
  }

  @Get('api/snapshot')
  @Header('cache-control', 'no-store')
  snapshot() {
    return this.dashboard.snapshot();
  }

  @Get('api/jobs')
  @Header('cache-control', 'no-store')
  async jobs(@Query() query: Record<string, unknown>) {
    return checked(async () => {
      const filter = parseJobFilter(query, 'GET jobs');
      const cursor = parseWhole(query.cursor, 'cursor', 'GET jobs') ?? null;
      const limit = parseWhole(query.limit, 'limit', 'GET jobs', PAGE_MAX) ?? PAGE_DEFAULT;
      return this.dashboard.listJobs(filter, cursor, limit);
    });
  }

  @Get('api/jobs/count')
  @Header('cache-control', 'no-store')
  async count(@Query() query: Record<string, unknown>) {
    return checked(() => this.dashboard.countJobs(parseJobFilter(query, 'GET jobs/count')));
  }

  @Get('api/jobs/:id')
  @Header('cache-control', 'no-store')
  async job(@Param('id') id: string) {
    const job = await checked(() => this.dashboard.getJob(jobId(id)));
    if (!job) throw new NotFoundException(`no job ${id}`);
    return job;
  }

  @Post('api/jobs/:id/retry')
  @HttpCode(200)
  @Requires('retry')
  retry(@Param('id') id: string) {
    return checked(() => this.dashboard.actOnJob('retry', jobId(id)));
  }

  @Post('api/jobs/:id/cancel')
  @HttpCode(200)
  @Requires('cancel')
  cancel(@Param('id') id: string) {
    return checked(() => this.dashboard.actOnJob('cancel', jobId(id)));
  }

  @Post('api/jobs/:id/delete')
  @HttpCode(200)
  @Requires('delete')
  remove(@Param('id') id: string) {
    return checked(() => this.dashboard.actOnJob('delete', jobId(id)));
  }

  /** `{ action, ids }`: one action on the jobs selected. */
  @Post('api/jobs/actions')
  @HttpCode(200)
  selection(@Req() request: any, @Body() body: any) {
    return checked(async () => {
      const action = allowedAction(request, body?.action, 'POST jobs/actions');
      const ids = body?.ids;
      if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_SELECTION) {
        throw new ObanValidationError(`POST jobs/actions: ids must be an array of 1 to ${MAX_SELECTION} job ids`);
      }
      return {
        results: await this.dashboard.actOnJobs(
          action,
          ids.map((i) => jobId(i)),
        ),
      };
    });
  }

  /** `{ action, filter, cursor? }`: one chunk of the jobs a filter matches, acted on; repeat with `next`. */
  @Post('api/jobs/bulk')
  @HttpCode(200)
  bulk(@Req() request: any, @Body() body: any) {
    return checked(async () => {
      const action = allowedAction(request, body?.action, 'POST jobs/bulk');
      const filter = parseJobFilter(body?.filter ?? {}, 'POST jobs/bulk');
      const cursor = parseWhole(body?.cursor, 'cursor', 'POST jobs/bulk') ?? null;
      return this.dashboard.actOnFilter(action, filter, cursor);
    });
  }

  @Post('api/queues/:queue/pause')
  @HttpCode(200)
  @Requires('pause')
  async pause(@Param('queue') queue: string) {
    await checked(() => this.dashboard.pauseQueue(queue));
    return { queue, paused: true };
  }

  @Post('api/queues/:queue/resume')
  @HttpCode(200)
  @Requires('pause')
  async resume(@Param('queue') queue: string) {
    await checked(() => this.dashboard.resumeQueue(queue));
    return { queue, paused: false };
  }

  /** `{ limit }`: the queue's new limit on every node. */
  @Post('api/queues/:queue/scale')
  @HttpCode(200)
  @Requires('scale')
  async scale(@Param('queue') queue: string, @Body() body: any) {
    const limit = body?.limit;
    await checked(() => this.dashboard.scaleQueue(queue, typeof limit === 'string' ? Number(limit) : limit));
    return { queue, limit: Number(limit) };
  }
}

/** Runs `fn`, answering 400 with the message for input the API refuses. */
async function checked<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof ObanValidationError) throw new BadRequestException(error.message);
    throw error;
  }
}

function jobId(raw: unknown): number {
  return parseWhole(raw, 'job id', 'the Oban dashboard')!;
}

function allowedAction(request: any, raw: unknown, where: string): JobAction {
  if (!JOB_ACTIONS.includes(raw as JobAction)) {
    throw new ObanValidationError(
      `${where}: action must be one of ${JOB_ACTIONS.join(', ')}, got ${JSON.stringify(raw)}`,
    );
  }
  const action = raw as JobAction;
  if (!permissionsOfRequest(request)[action]) {
    throw new ForbiddenException(`the Oban dashboard: not allowed to ${action}`);
  }
  return action;
}

/** The path this page was served at (global prefix included), for its links to its files and API. */
function baseOf(request: any): string {
  const url = String(request.originalUrl ?? request.url ?? '/');
  return url.split('?')[0].replace(/\/+$/, '') || '/';
}
