import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { ObanValidationError } from '../errors';
import type { Job, JobArgs } from '../job';
import type { JobOptions } from '../validation/job-options';
import type { ObanWorker, WorkerClass } from '../worker/worker.interface';

/**
 * What a held step does when a dependency is cancelled, discarded or deleted:
 * - `cancel` (default): it is cancelled too, its error naming the dependency;
 * - `continue`: it runs anyway once its other dependencies are done (that dependency's result is null);
 * - `hold`: it stays `suspended` until the dependency is retried and completes (a deleted one cancels it).
 */
export type DepFailurePolicy = 'cancel' | 'continue' | 'hold';

export const DEP_FAILURE_POLICIES: readonly DepFailurePolicy[] = ['cancel', 'continue', 'hold'];

/** A dependency: a step by name, or `{ appendedBy: name }`: that step and every job it appends while it runs. */
export type DepRef<Names extends string> = Names | { appendedBy: Names };

/** The options of one step: a job's options plus its dependencies. */
export interface StepOptions<Names extends string> extends JobOptions {
  deps?: ReadonlyArray<DepRef<Names>>;
  onDepFailure?: DepFailurePolicy;
}

/** The options of a sub-workflow added as a step: its first steps wait for `deps`. */
export interface SubWorkflowOptions<Names extends string> {
  deps?: ReadonlyArray<DepRef<Names>>;
  onDepFailure?: DepFailurePolicy;
}

type ArgsOfWorker<W> = W extends ObanWorker<infer A, any> ? A : JobArgs;

/** A name not used yet in the workflow (a repeated name is refused at compile time, and at run time). */
type NewName<S extends string, Names extends string> = S extends Names ? never : S;

/** One edge of the plan: the step waits for `name`. */
export interface PlannedDep {
  name: string;
  appended: boolean;
  policy: DepFailurePolicy;
}

/** One step of the plan, flattened (a sub-workflow's steps are named `sub.step`). */
export interface PlannedStep {
  name: string;
  worker: WorkerClass | string;
  args: unknown;
  options: JobOptions;
  deps: PlannedDep[];
}

/** The jobs of an inserted workflow (or of an append), by step name. */
export interface InsertedWorkflow<Names extends string = string> {
  id: string;
  jobs: Record<Names, Job> & Record<string, Job>;
}

/** Writes a checked plan; given by the `Oban` service. */
export type WorkflowWriter = (
  workflowId: string,
  steps: PlannedStep[],
  manager: EntityManager | undefined,
) => Promise<InsertedWorkflow>;

/** The workflow a running step belongs to, from its `meta.workflow_id` (what appendToWorkflow appends to). */
export function workflowIdOfStep(job: { id?: unknown; meta?: Record<string, unknown> }, where: string): string {
  const id = typeof job?.meta?.workflow_id === 'string' ? job.meta.workflow_id : undefined;
  if (!id) throw new ObanValidationError(`${where}: the job belongs to no workflow (no meta.workflow_id)`);
  return id;
}

const STEP_NAME = /^[A-Za-z0-9_:/@#+-][A-Za-z0-9_:/@#+ -]{0,127}$/;

/**
 * A DAG of jobs, built step by step and inserted in one statement:
 *
 *   await oban.workflow()
 *     .add('fetch', FetchWorker, { url })
 *     .add('resize', ResizeWorker, { size: 800 }, { deps: ['fetch'] })
 *     .add('thumb', ThumbWorker, { size: 64 }, { deps: ['fetch'] })
 *     .add('notify', NotifyWorker, { userId }, { deps: ['resize', 'thumb'] })
 *     .insert();
 *
 * `deps` only takes names already added (checked by the compiler; at run time
 * an unknown name or a cycle is refused at insert, naming it). A step with
 * deps is inserted `suspended` and made available in the transaction that
 * completes its last dependency.
 */
export class Workflow<Names extends string = never, Stored extends string = never> {
  private readonly steps: PlannedStep[] = [];
  /** Sub-workflow name -> its flattened step names (a dependency on it waits for all of them). */
  private readonly groups = new Map<string, string[]>();

  constructor(
    private readonly writer: WorkflowWriter | undefined,
    /** The workflow's id, kept in each job's `meta.workflow_id`. */
    readonly id: string = randomUUID(),
    private readonly where = 'workflow',
    /** Appending to a stored workflow: a dep named by no new step is looked up among its stored steps. */
    private readonly appending = false,
  ) {}

  /** Adds a step running `worker` with `args`, or a whole sub-workflow as one step. */
  add<S extends string, W extends ObanWorker<any, any>>(
    name: NewName<S, Names>,
    worker: abstract new (...args: any[]) => W,
    args: ArgsOfWorker<W>,
    options?: StepOptions<Names | Stored>,
  ): Workflow<Names | S, Stored>;
  add<S extends string>(
    name: NewName<S, Names>,
    worker: string,
    args: JobArgs,
    options?: StepOptions<Names | Stored>,
  ): Workflow<Names | S, Stored>;
  add<S extends string>(
    name: NewName<S, Names>,
    sub: Workflow<any, never>,
    options?: SubWorkflowOptions<Names | Stored>,
  ): Workflow<Names | S, Stored>;
  add(name: string, target: unknown, argsOrOptions?: unknown, maybeOptions?: unknown): Workflow<any, any> {
    this.checkNewName(name);
    if (target instanceof Workflow) {
      this.addSub(name, target, (argsOrOptions ?? {}) as SubWorkflowOptions<string>);
    } else {
      if (typeof target !== 'function' && typeof target !== 'string') {
        throw new ObanValidationError(
          `${this.where}: step '${name}': expected a @Worker class, a worker name or a sub-workflow, got ${typeof target}`,
        );
      }
      const options = (maybeOptions ?? {}) as StepOptions<string>;
      if (typeof options !== 'object' || options === null) {
        throw new ObanValidationError(`${this.where}: step '${name}': options must be an object`);
      }
      const { deps, onDepFailure, ...jobOptions } = options;
      const policy = this.policy(name, onDepFailure);
      this.steps.push({
        name,
        worker: target as WorkerClass | string,
        args: argsOrOptions,
        options: jobOptions,
        deps: this.depList(name, deps, policy),
      });
    }
    return this as Workflow<any, any>;
  }

  /** The steps as they will be inserted (sub-workflows flattened), after checking names and cycles. */
  plan(): PlannedStep[] {
    const byName = new Map(this.steps.map((s) => [s.name, s]));
    const resolved = this.steps.map((step) => ({
      ...step,
      deps: step.deps.flatMap((dep) => {
        const group = this.groups.get(dep.name);
        if (group) return group.map((name) => ({ ...dep, name }));
        if (!byName.has(dep.name) && !this.appending) {
          const known = [...byName.keys(), ...this.groups.keys()];
          throw new ObanValidationError(
            `${this.where}: step '${step.name}' depends on '${dep.name}', which is no step of this workflow ` +
              `(steps: ${known.join(', ') || 'none'})`,
          );
        }
        return [dep];
      }),
    }));
    findCycle(resolved, this.where);
    return resolved;
  }

  /** Checks the plan and inserts every step, in one statement (in the caller's transaction with `manager`). */
  async insert(options: { manager?: EntityManager } = {}): Promise<InsertedWorkflow<Names>> {
    if (!this.writer) {
      throw new ObanValidationError(`${this.where}: a sub-workflow is inserted by the workflow it is a step of`);
    }
    const steps = this.plan();
    if (steps.length === 0) throw new ObanValidationError(`${this.where}: no steps to insert; add some first`);
    return (await this.writer(this.id, steps, options?.manager)) as InsertedWorkflow<Names>;
  }

  private addSub(name: string, sub: Workflow<any, any>, options: SubWorkflowOptions<string>): void {
    if (sub === this) throw new ObanValidationError(`${this.where}: step '${name}': a workflow cannot contain itself`);
    const policy = this.policy(name, options.onDepFailure);
    const outer = this.depList(name, options.deps, policy);
    const inner = sub.plan();
    const names: string[] = [];
    for (const step of inner) {
      const flat = `${name}.${step.name}`;
      names.push(flat);
      const deps = step.deps.map((d) => ({ ...d, name: `${name}.${d.name}` }));
      this.steps.push({ ...step, name: flat, deps: step.deps.length === 0 ? [...outer] : deps });
    }
    this.groups.set(name, names);
  }

  private checkNewName(name: unknown): void {
    if (typeof name !== 'string' || !STEP_NAME.test(name)) {
      throw new ObanValidationError(
        `${this.where}: step name ${JSON.stringify(name)} must be 1 to 128 letters, digits or _:/@#+- and spaces ` +
          `(no '.', which names a sub-workflow's steps)`,
      );
    }
    if (this.steps.some((s) => s.name === name) || this.groups.has(name)) {
      throw new ObanValidationError(`${this.where}: step '${name}' is added twice; step names are unique`);
    }
  }

  private policy(name: string, policy: unknown): DepFailurePolicy {
    if (policy === undefined) return 'cancel';
    if (!DEP_FAILURE_POLICIES.includes(policy as DepFailurePolicy)) {
      throw new ObanValidationError(
        `${this.where}: step '${name}': onDepFailure must be one of ${DEP_FAILURE_POLICIES.join(', ')}, got ${JSON.stringify(policy)}`,
      );
    }
    return policy as DepFailurePolicy;
  }

  private depList(name: string, deps: unknown, policy: DepFailurePolicy): PlannedDep[] {
    if (deps === undefined) return [];
    if (!Array.isArray(deps)) {
      throw new ObanValidationError(`${this.where}: step '${name}': deps must be an array of step names`);
    }
    const list: PlannedDep[] = [];
    for (const dep of deps) {
      const appended = typeof dep === 'object' && dep !== null && 'appendedBy' in dep;
      const depName = appended ? (dep as { appendedBy: unknown }).appendedBy : dep;
      if (typeof depName !== 'string') {
        throw new ObanValidationError(
          `${this.where}: step '${name}': each dep is a step name or { appendedBy: name }, got ${JSON.stringify(dep)}`,
        );
      }
      if (depName === name) {
        throw new ObanValidationError(`${this.where}: steps form a cycle: ${name} -> ${name}`);
      }
      if (list.some((d) => d.name === depName)) continue;
      list.push({ name: depName, appended, policy });
    }
    return list;
  }
}

/** Throws naming the first cycle found among the steps' deps (stored steps get no new deps: none runs through them). */
function findCycle(steps: PlannedStep[], where: string): void {
  const deps = new Map(steps.map((s) => [s.name, s.deps.map((d) => d.name)]));
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (name: string): void => {
    if (state.get(name) === 'done' || !deps.has(name)) return;
    if (state.get(name) === 'open') {
      const cycle = [...path.slice(path.indexOf(name)), name];
      throw new ObanValidationError(`${where}: steps form a cycle: ${cycle.join(' -> ')}`);
    }
    state.set(name, 'open');
    path.push(name);
    for (const dep of deps.get(name)!) visit(dep);
    path.pop();
    state.set(name, 'done');
  };
  for (const step of steps) visit(step.name);
}
