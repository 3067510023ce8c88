import type { TraceCarrier } from '../../events/hooks';
import type { Job } from '../../job';
import type { ErrorInfo, Outcome } from '../../queue/outcome';
import type { MainProcessCallName } from './calls';

/**
 * Messages between the main process and a worker process, over the IPC channel
 * of child_process.fork (structured-clone serialization, so Dates survive).
 */

/** Where a worker process finds a module: a file and the export holding the class. */
export interface ModuleLocation {
  file: string;
  exportName: string;
}

/** What a worker process loads and boots. */
export interface BootSpec {
  /** The file that called ObanModule.forRoot(): walking its module graph finds host modules and global modules. */
  rootFile?: string;
  /**
   * The program's entry file, when ObanModule.forRoot() is called there and a
   * host module is nowhere else (a bundle: webpack or rspack put every module
   * in dist/main.js). The worker process loads it with NestFactory guarded, so
   * the app never starts there, and takes the modules from the app's own
   * NestFactory call.
   */
  entryFile?: string;
  workers: Array<{
    name: string;
    /** The class name of the module declaring the worker. */
    hostModule: string;
    /** Where that module is exported, when the main process could tell. */
    hostLocation?: ModuleLocation;
  }>;
  /** Log levels for the worker process's Nest logger. */
  logLevels: string[];
  /** Class names of global modules left out, with what they import (`processExclude`). */
  exclude?: string[];
}

export type ParentMessage =
  | { type: 'boot'; spec: BootSpec }
  /** `trace`: the W3C context of the attempt's consumer span, when the main process traces. */
  | { type: 'run'; job: Job; trace?: TraceCarrier }
  | { type: 'stats' }
  /** The answer to a `call`: its value, or the error the main process's Oban threw. */
  | { type: 'call-result'; callId: number; value?: unknown; error?: ErrorInfo & { name: string } }
  | { type: 'shutdown' };

export type ChildMessage =
  | { type: 'ready'; pid: number; workers: string[] }
  | { type: 'boot-failed'; error: ErrorInfo }
  | { type: 'outcome'; jobId: number; outcome: Outcome }
  | { type: 'stats'; rss: number; running: number }
  /** A job calls an `Oban` method, carried out by the main process (see calls.ts). */
  | { type: 'call'; callId: number; method: MainProcessCallName; args: unknown[] }
  | { type: 'fatal'; error: ErrorInfo };
