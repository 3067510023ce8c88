import { Inject, Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { ObanError, ObanValidationError } from '../errors';
import type { Job } from '../job';
import type { NodeView } from '../node-view';
import { Oban, type ObanInternals } from '../oban.service';
import { OBAN_INTERNALS, OBAN_NODE } from '../oban.tokens';
import { BoundedReads } from './bounded-reads';
import { DashboardStore, type FilterCount, type JobPage } from './dashboard-store';
import type { JobFilter } from './job-filter';
import { type DashboardConfig, type JobAction, OBAN_DASHBOARD_CONFIG } from './options';
import { type DashboardSnapshot, SnapshotSource } from './snapshot';
import { buildDashboardStatements } from './statements';

/** How one job fared under an action. */
export interface ActionResult {
  id: number;
  /** The action was applied (false: no such job, or nothing to do in its state). */
  ok: boolean;
  /** The job's state afterwards (null when gone). */
  state: string | null;
  /** Why it could not be applied, when the job refused it (deleting an executing job). */
  error?: string;
}

export interface BulkResult {
  /** Jobs the action was applied to in this chunk. */
  applied: number;
  /** Jobs the filter matched in this chunk but the action left as they were. */
  skipped: number;
  /** Where the next chunk starts, or null when the filter is exhausted. */
  next: number | null;
}

/** Jobs one bulk request acts on at most; the page asks again until `next` is null. */
export const BULK_CHUNK = 200;
/** Jobs a selection may name at once. */
export const MAX_SELECTION = 500;
/** Jobs acted on at once within a chunk: each action is one round trip of the `Oban` service. */
const ACTION_CONCURRENCY = 8;

/**
 * What the dashboard reads and does. Reads are its own (bounded, keyset,
 * estimates above a size); every action goes through the `Oban` service, so
 * cancels reach the node running the job and pauses every node, as from code.
 */
@Injectable()
export class DashboardService {
  private parts: { store: DashboardStore; snapshot: SnapshotSource; oban: Oban } | undefined;

  constructor(
    @Inject(OBAN_DASHBOARD_CONFIG) readonly config: DashboardConfig,
    @Inject(ModuleRef) private readonly moduleRef: ModuleRef,
  ) {}

  snapshot(): Promise<DashboardSnapshot> {
    return this.get().snapshot.get();
  }

  /** The snapshot source itself (tests count its reads). */
  get snapshots(): SnapshotSource {
    return this.get().snapshot;
  }

  async listJobs(filter: JobFilter, cursor: number | null, limit: number): Promise<JobPage> {
    const page = await this.get().store.listJobs(filter, cursor, limit);
    return { ...page, jobs: page.jobs.map((job) => this.redacted(job)) };
  }

  countJobs(filter: JobFilter): Promise<FilterCount> {
    return this.get().store.countJobs(filter);
  }

  async getJob(id: number): Promise<Job | null> {
    const job = await this.get().oban.getJob(id);
    return job && this.redacted(job);
  }

  async actOnJob(action: JobAction, id: number): Promise<ActionResult> {
    const { oban, snapshot } = this.get();
    try {
      if (action === 'delete') {
        const deleted = await oban.deleteJob(id);
        return { id, ok: deleted, state: null };
      }
      const before = await oban.getJob(id);
      if (!before) return { id, ok: false, state: null };
      const after = action === 'retry' ? await oban.retryJob(id) : await oban.cancelJob(id);
      return { id, ok: after !== null && !refused(action, before), state: after?.state ?? null };
    } catch (error) {
      if (error instanceof ObanError && !(error instanceof ObanValidationError)) {
        return { id, ok: false, state: 'executing', error: error.message };
      }
      throw error;
    } finally {
      snapshot.invalidate();
    }
  }

  async actOnJobs(action: JobAction, ids: number[]): Promise<ActionResult[]> {
    const results: ActionResult[] = new Array(ids.length);
    let next = 0;
    const lane = async () => {
      while (next < ids.length) {
        const i = next++;
        results[i] = await this.actOnJob(action, ids[i]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(ACTION_CONCURRENCY, ids.length) }, lane));
    return results;
  }

  /** One chunk of "everything the filter matches": the next jobs below `cursor`, acted on. */
  async actOnFilter(action: JobAction, filter: JobFilter, cursor: number | null): Promise<BulkResult> {
    const page = await this.get().store.listJobs(filter, cursor, BULK_CHUNK);
    const results = await this.actOnJobs(
      action,
      page.jobs.map((j) => j.id),
    );
    const applied = results.filter((r) => r.ok).length;
    return { applied, skipped: results.length - applied, next: page.next };
  }

  pauseQueue(queue: string): Promise<void> {
    return this.changing(this.get().oban.pauseQueue(queue));
  }

  resumeQueue(queue: string): Promise<void> {
    return this.changing(this.get().oban.resumeQueue(queue));
  }

  scaleQueue(queue: string, limit: number): Promise<void> {
    return this.changing(this.get().oban.scaleQueue(queue, limit));
  }

  /** After an action the page asks again at once: it must see the action's effect, not the cached figures. */
  private changing<T>(action: Promise<T>): Promise<T> {
    return action.finally(() => this.get().snapshot.invalidate());
  }

  private redacted(job: Job): Job {
    return this.config.redact ? this.config.redact(structuredClone(job)) : job;
  }

  /** Built on first use: the dashboard module may load where no node runs (a worker process). */
  private get() {
    if (!this.parts) {
      let oban: Oban;
      try {
        oban = this.moduleRef.get(Oban, { strict: false });
      } catch {
        throw new ObanError('the Oban dashboard needs ObanModule.forRoot() in the same app');
      }
      const internals: ObanInternals = oban[OBAN_INTERNALS]();
      const { config } = this;
      const reads = new BoundedReads(internals.db, config.statementTimeout);
      const sql = buildDashboardStatements(internals.config.prefix);
      const store = new DashboardStore(reads, sql, internals.cluster.sql, config.searchWindow, config.estimateAbove);
      const node = () => this.moduleRef.get<NodeView>(OBAN_NODE, { strict: false });
      const snapshot = new SnapshotSource(internals, node, reads, sql, config.refreshInterval, config.estimateAbove);
      this.parts = { store, snapshot, oban };
    }
    return this.parts;
  }
}

/** Whether the job's state before made the action a no-op. */
function refused(action: JobAction, before: Job): boolean {
  if (action === 'retry') return before.state === 'available' || before.state === 'executing';
  return before.state === 'completed' || before.state === 'discarded' || before.state === 'cancelled';
}
