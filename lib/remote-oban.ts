import { type DynamicModule, Global, Module } from '@nestjs/common';
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
    workflow: builderInMainProcess('workflow'),
    appendToWorkflow: builderInMainProcess('appendToWorkflow'),
    batch: builderInMainProcess('batch'),
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

/** The workflow and batch builders hold worker classes and callbacks, which cannot cross the IPC channel. */
function builderInMainProcess(method: keyof Oban) {
  return (): never => {
    throw new ObanError(
      `${String(method)}() is not available in a worker process (cpu: true): build workflows and batches from a ` +
        `worker without cpu: true (addToBatch, awaitJob, relay and the workflow status calls do work here)`,
    );
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
