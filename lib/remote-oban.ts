import { type DynamicModule, Global, Module } from '@nestjs/common';
import { Batch } from './compose/batch';
import { type PlannedStep, Workflow, workflowIdOfStep } from './compose/workflow';
import { ObanError } from './errors';
import { Oban } from './oban.service';
import { MAIN_PROCESS_CALLS, encodeCallArgs } from './pool/protocol/calls';
import { type MainProcessCall, mainProcessCall } from './util/process-role';

// Every name the pool process may call is a method of Oban (checked by the compiler).
MAIN_PROCESS_CALLS satisfies ReadonlyArray<keyof Oban>;

/**
 * `Oban` inside a pool process: the same API, carried out by the main process
 * over IPC, so a job can enqueue follow-up jobs or control queues without a
 * database connection of its own. Built from the one list of callable methods.
 */
export function remoteOban(call: MainProcessCall): Oban {
  const remote: Record<string, unknown> = {
    checkQueue: mainProcessOnly('checkQueue'),
    checkLimits: mainProcessOnly('checkLimits'),
    checkProcesses: mainProcessOnly('checkProcesses'),
    isLeader: mainProcessOnly('isLeader'),
    ...builders(call),
  };
  for (const method of MAIN_PROCESS_CALLS) {
    remote[method] = (...args: unknown[]) => call(method, encodeCallArgs(method, args));
  }
  return remote as unknown as Oban;
}

function mainProcessOnly(method: keyof Oban) {
  return (): never => {
    throw new ObanError(`${String(method)}() reports the main process and is not available in a worker process`);
  };
}

/**
 * The workflow and batch builders run here, where the job calls them, so a
 * bad plan (an unknown dependency, a cycle, a repeated name) is refused in the
 * job with the same message as in the main process; their `insert()` sends
 * the checked plan, its workers by name, to the main process, which writes it.
 */
function builders(call: MainProcessCall): Pick<Oban, 'workflow' | 'appendToWorkflow' | 'batch'> {
  // A plan that cannot cross (a class that is no worker, args that are not JSON) rejects, as insert() does.
  const send = <M extends 'insertWorkflowPlan' | 'insertBatchPlan'>(method: M, args: unknown[]) =>
    new Promise<unknown>((resolve) => resolve(call(method, encodeCallArgs(method, args)))) as ReturnType<Oban[M]>;
  return {
    workflow: () =>
      new Workflow((id, steps, manager) => send('insertWorkflowPlan', [id, steps, null, 'workflow', manager])),
    appendToWorkflow: (job) => {
      const where = `appendToWorkflow(job ${job?.id})`;
      const write = (id: string, steps: PlannedStep[], manager: unknown) =>
        send('insertWorkflowPlan', [id, steps, job.id, where, manager]);
      return new Workflow<never, string>(write, workflowIdOfStep(job, where), where, true);
    },
    batch: (options = {}) =>
      new Batch(
        (id, callbacks, members, manager) => send('insertBatchPlan', [id, callbacks, members, manager]),
        options,
      ),
  };
}

/**
 * What ObanModule.forRoot() becomes inside a pool process: only an `Oban`
 * that forwards to the main process. No connection, no queues.
 */
@Global()
@Module({})
export class ObanRemoteModule {
  static register(): DynamicModule {
    return {
      module: ObanRemoteModule,
      global: true,
      providers: [{ provide: Oban, useFactory: () => remoteOban(mainProcessCall()) }],
      exports: [Oban],
    };
  }
}
