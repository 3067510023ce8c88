import type { Database, Queryable } from '../db/database';
import { ObanValidationError } from '../errors';
import { FINAL_STATES, type InsertedRow, type Job, type JobState, jobFromInsert, jobFromRow } from '../job';
import type { InsertRow } from '../store/job-store';
import type { ComposeStatements } from './statements';
import { inTransaction } from './transaction';
import type { InsertedWorkflow, PlannedStep } from './workflow';

/** A workflow's jobs counted by state, in all and per step. */
export interface WorkflowStatus {
  id: string;
  /** Jobs in the workflow (appended ones included). */
  total: number;
  /** True when every job is completed, discarded or cancelled (and there is at least one). */
  finished: boolean;
  states: Partial<Record<JobState, number>>;
  steps: Record<string, Partial<Record<JobState, number>>>;
}

interface StepRow extends InsertRow {
  step: string;
  state: 'suspended' | 'cancelled' | null;
  error?: string;
}

interface Edge {
  step: string;
  dep: string;
  dep_id: number | null;
  policy: string;
  appended: boolean;
  done: boolean;
}

interface Stored {
  id: string;
  state: string;
  result: unknown;
  step: string | null;
  appender: boolean;
}

const FAILED: readonly JobState[] = FINAL_STATES.filter((s) => s !== 'completed');

/** Workflows in `oban_jobs` and the edge tables of schema version 5. */
export class WorkflowStore {
  constructor(
    private readonly db: Database,
    private readonly sql: ComposeStatements,
  ) {}

  /**
   * Inserts checked steps (`rows` in the same order, their meta naming the
   * workflow and step) with their edges. Deps named by no new step are stored
   * steps, locked and read first in the same transaction; `appender` is the
   * running step appending them.
   */
  async insert(
    workflowId: string,
    steps: PlannedStep[],
    rows: InsertRow[],
    via: Queryable | undefined,
    appender: number | undefined,
    where: string,
  ): Promise<InsertedWorkflow> {
    const newNames = new Set(steps.map((s) => s.name));
    const external = [...new Set(steps.flatMap((s) => s.deps.map((d) => d.name)).filter((n) => !newNames.has(n)))];
    const needsLock = appender !== undefined || external.length > 0;
    const run = async (q: Queryable) => {
      const stored = needsLock ? await this.lock(q, workflowId, appender, [...external, ...newNames], where) : [];
      const byStep = new Map(stored.filter((s) => s.step !== null).map((s) => [s.step!, s]));
      for (const name of newNames) {
        if (byStep.has(name)) {
          throw new ObanValidationError(`${where}: step '${name}' exists already in workflow ${workflowId}`);
        }
      }
      const edges: Edge[] = [];
      const stepRows: StepRow[] = steps.map((step, i) => {
        const row: StepRow = { ...rows[i], meta: { ...rows[i].meta }, step: step.name, state: null };
        const results: Record<string, unknown> = {};
        let waiting = false;
        for (const dep of step.deps) {
          const found = newNames.has(dep.name) ? undefined : byStep.get(dep.name);
          if (!newNames.has(dep.name) && !found) {
            throw new ObanValidationError(
              `${where}: step '${step.name}' depends on '${dep.name}', which is no step of workflow ${workflowId}`,
            );
          }
          const failed = found !== undefined && FAILED.includes(found.state as JobState);
          const done = found !== undefined && (found.state === 'completed' || (failed && dep.policy === 'continue'));
          if (done) results[dep.name] = found!.state === 'completed' ? found!.result : null;
          else waiting = true;
          if (failed && !done && row.state === null) {
            const why = `dependency '${dep.name}' (job ${found!.id}) was ${found!.state}`;
            if (dep.policy === 'cancel') {
              row.state = 'cancelled';
              row.error = `DependencyFailedError: ${why}`;
            } else row.meta.workflow_held = `${why}; retry it to release this step`;
          }
          edges.push({
            step: step.name,
            dep: dep.name,
            dep_id: found ? Number(found.id) : null,
            policy: dep.policy,
            appended: dep.appended,
            done,
          });
        }
        if (row.state === null && waiting) row.state = 'suspended';
        if (Object.keys(results).length > 0 && !waiting) row.meta.workflow_results = results;
        return row;
      });
      const json = JSON.stringify(stepRows);
      const inserted = await q.query<InsertedRow & { step: string }>(this.sql.insertSteps, [
        json,
        JSON.stringify(edges),
        appender ?? null,
      ]);
      if (inserted.length !== stepRows.length) {
        throw new Error(`nest-oban: inserted ${inserted.length} of ${stepRows.length} workflow steps`);
      }
      const sent: StepRow[] = JSON.parse(json);
      const byName = new Map(inserted.map((r) => [r.step, r]));
      const jobs: Record<string, Job> = {};
      for (const row of sent) jobs[row.step] = jobFromInsert(row, byName.get(row.step)!);
      return { id: workflowId, jobs };
    };
    return needsLock ? inTransaction(this.db, via, run) : run(via ?? this.db);
  }

  async status(id: string): Promise<WorkflowStatus> {
    const rows = await this.db.query<{ step: string; state: JobState; count: number }>(this.sql.workflowStatus, [id]);
    const status: WorkflowStatus = { id, total: 0, finished: false, states: {}, steps: {} };
    for (const { step, state, count } of rows) {
      status.total += count;
      status.states[state] = (status.states[state] ?? 0) + count;
      (status.steps[step] ??= {})[state] = count;
    }
    const open = Object.entries(status.states).some(([s, n]) => !FINAL_STATES.includes(s as JobState) && n! > 0);
    status.finished = status.total > 0 && !open;
    return status;
  }

  async jobs(id: string, limit: number): Promise<Job[]> {
    return (await this.db.query(this.sql.workflowJobs, [id, limit])).map(jobFromRow);
  }

  /** Cancels the workflow's unfinished jobs; returns their ids and which of them were executing. */
  async cancel(id: string): Promise<{ cancelled: number[]; executing: number[] }> {
    const rows = await this.db.query<{ id: string; executing: boolean }>(this.sql.cancelWorkflow, [id]);
    return {
      cancelled: rows.map((r) => Number(r.id)),
      executing: rows.filter((r) => r.executing).map((r) => Number(r.id)),
    };
  }

  /** Retries the workflow's failed jobs; returns each retried id with its new state. */
  async retry(id: string): Promise<Array<{ id: number; state: JobState }>> {
    const rows = await this.db.query<{ id: string; state: JobState }>(this.sql.retryWorkflow, [id]);
    return rows.map((r) => ({ id: Number(r.id), state: r.state }));
  }

  private async lock(
    q: Queryable,
    workflowId: string,
    appender: number | undefined,
    names: string[],
    where: string,
  ): Promise<Stored[]> {
    const stored = await q.query<Stored>(this.sql.lockForAppend, [workflowId, appender ?? null, names]);
    if (appender !== undefined) {
      const self = stored.find((s) => s.appender);
      if (!self || self.state !== 'executing') {
        throw new ObanValidationError(
          `${where}: job ${appender} is ${self ? self.state : 'gone'}; only a running step appends to its workflow`,
        );
      }
    }
    return stored;
  }
}
