// Puts the heartbeat thread's program in the program of compilers that follow the
// import graph (tsc given one entry file), so it is emitted beside this file.
/// <reference path="./heartbeat-thread.ts" />
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from '@nestjs/common';
import type { HeartbeatListener, NodeLiveness } from './liveness';
import type { JoinResult } from './node-heartbeat';
import type { HeartbeatThreadData, HeartbeatThreadMessage, StopCommand } from './thread-messages';

/** The heartbeat thread's program, found by path (it runs as built JavaScript, or from source). */
export const HEARTBEAT_THREAD_ENTRY = path.join(__dirname, `heartbeat-thread${path.extname(__filename)}`);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());

/**
 * The heartbeat on a worker thread with its own connection (Postgres): a
 * main loop blocked by synchronous jobs cannot stop it, so such a node stays
 * alive and its jobs are not run a second time meanwhile. Should the thread
 * ever die, a new one takes over.
 */
export class ThreadLiveness implements NodeLiveness {
  private worker: Worker | undefined;
  private exited: Promise<void> = Promise.resolve();
  private stopping = false;
  private readonly spawn: () => Worker;

  constructor(
    private readonly data: HeartbeatThreadData,
    private readonly listener: HeartbeatListener,
    private readonly logger: Logger,
  ) {
    this.spawn = threadSpawner(HEARTBEAT_THREAD_ENTRY, data);
  }

  private get node(): string {
    return this.data.settings.node;
  }

  join(): Promise<JoinResult> {
    return this.launch();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const worker = this.worker;
    if (!worker) return;
    worker.postMessage({ cmd: 'stop' } satisfies StopCommand);
    const gone = await Promise.race([
      this.exited.then(() => true),
      sleep(this.data.settings.nodeTtl).then(() => false),
    ]);
    if (!gone) await worker.terminate();
  }

  private launch(): Promise<JoinResult> {
    const worker = this.spawn();
    worker.unref(); // the node's own timers keep the process up; this thread never does by itself
    this.worker = worker;
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    let joined = false;
    return new Promise<JoinResult>((resolve, reject) => {
      worker.on('message', (message: HeartbeatThreadMessage) => {
        if (message.type === 'joined' || message.type === 'name-taken') {
          joined = message.type === 'joined';
          resolve(message.type);
        } else if (message.type === 'join-failed') {
          reject(new Error(message.message));
        } else if (message.type === 'stopped') {
          if (message.error)
            this.logger.warn(`removing node ${this.node} failed (it expires by itself): ${message.error}`);
        } else {
          this.listener(message);
        }
      });
      worker.once('error', reject);
      worker.once('exit', (code) => {
        reject(new Error(`the heartbeat thread exited (code ${code})`));
        if (joined && !this.stopping) void this.relaunch(code);
      });
    });
  }

  /** A joined node's thread died: start another until one joins (the node is silent meanwhile). */
  private async relaunch(code: number): Promise<void> {
    this.logger.error(`node ${this.node}: its heartbeat thread stopped (exit code ${code}); starting a new one`);
    while (!this.stopping) {
      await sleep(this.data.settings.heartbeatInterval);
      if (this.stopping) return;
      try {
        if ((await this.launch()) === 'name-taken') {
          this.logger.error(`node ${this.node}: another live process took this node name meanwhile`);
        }
        return;
      } catch (error) {
        this.logger.error(`node ${this.node}: restarting its heartbeat thread failed: ${(error as Error).message}`);
        await this.worker?.terminate();
      }
    }
  }
}

/**
 * How to start the thread. From built JavaScript: directly. From TypeScript
 * sources, the thread needs a hook to load them: the one it inherited from
 * the main thread's flags (`-r ts-node/register`, say), else ts-node,
 * registered by the thread itself (the main thread may have registered its
 * hook in code, which a thread does not inherit).
 */
function threadSpawner(entry: string, workerData: HeartbeatThreadData): () => Worker {
  if (path.extname(entry) !== '.ts') return () => new Worker(entry, { workerData });
  const register = resolveTsNode();
  const loadHook = register
    ? `require(${JSON.stringify(register)});`
    : `throw new Error('the heartbeat thread must load TypeScript, but ts-node is not installed; install it or build the app to JavaScript');`;
  const program = `if (!require.extensions['.ts']) { ${loadHook} }\nrequire(${JSON.stringify(entry)});`;
  return () => new Worker(program, { eval: true, workerData });
}

function resolveTsNode(): string | undefined {
  try {
    return require.resolve('ts-node/register', { paths: [process.cwd(), __dirname] });
  } catch {
    return undefined;
  }
}
