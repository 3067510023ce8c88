import { type ChildProcess, fork } from 'node:child_process';
import type { SystemName } from '../common/systems';
import { epochNow } from './clock';
import type { WorkerPlan } from './system';
import type { WorkerArgs, WorkerCommand, WorkerEvent } from './worker-protocol';

/**
 * The producer process's handle on its worker process (workers.ts): sends one
 * command at a time and awaits its ack; keeps the count of started jobs and
 * hands each probe's start time (epochNow in the worker process) to whoever
 * waits for that key.
 */
export class WorkerLink {
  /** Non-probe jobs the worker process has started since the last prepare (as of its last report, <= 20 ms old). */
  started = 0;
  private readonly probes = new Map<number, (at: number) => void>();
  private pending: { resolve: (at: number | undefined) => void; reject: (error: Error) => void } | undefined;
  private exited: Error | undefined;

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (event: WorkerEvent) => this.onEvent(event));
    child.on('exit', (code, signal) => {
      this.exited = new Error(`bench: the worker process ended with ${signal ?? `code ${code}`}`);
      this.pending?.reject(this.exited);
      this.pending = undefined;
    });
  }

  static start(system: SystemName, url: string, location: string): Promise<WorkerLink> {
    const args: WorkerArgs = [system, url, location];
    const child = fork(require.resolve('./workers'), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const link = new WorkerLink(child);
    return new Promise((resolve, reject) => {
      child.once('message', () => resolve(link)); // 'ready' comes first
      child.once('exit', (code) =>
        reject(new Error(`bench: the worker process exited with ${code} before it was ready`)),
      );
    });
  }

  async prepare(plan: WorkerPlan): Promise<void> {
    await this.command({ type: 'prepare', plan });
    this.started = 0;
  }

  async start(): Promise<void> {
    await this.command({ type: 'start' });
  }

  async stop(): Promise<void> {
    await this.command({ type: 'stop' });
  }

  /** Closes the workers and waits for the process to end. */
  async close(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise((resolve) => this.child.once('exit', resolve));
    await this.command({ type: 'close' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  }

  /** Resolves with the time (epochNow of the worker process) the probe `key` started. */
  startOf(key: number): Promise<number> {
    return new Promise((resolve) => this.probes.set(key, resolve));
  }

  forget(key: number): void {
    this.probes.delete(key);
  }

  /**
   * The worker process's clock minus this one's, from the ping with the
   * shortest round trip of `pings` (its half round trip bounds the error).
   */
  async clockOffset(pings = 20): Promise<{ offsetMs: number; roundTripMs: number }> {
    let best = { offsetMs: NaN, roundTripMs: Infinity };
    for (let i = 0; i < pings; i++) {
      const t0 = epochNow();
      const at = (await this.command({ type: 'ping' }))!;
      const t1 = epochNow();
      if (t1 - t0 < best.roundTripMs) best = { offsetMs: at - (t0 + t1) / 2, roundTripMs: t1 - t0 };
    }
    return best;
  }

  private command(command: WorkerCommand): Promise<number | undefined> {
    if (this.exited) return Promise.reject(this.exited);
    if (this.pending) throw new Error(`bench: worker command '${command.type}' sent while another is under way`);
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.child.send(command);
    });
  }

  private onEvent(event: WorkerEvent): void {
    switch (event.type) {
      case 'probe': {
        const waiter = this.probes.get(event.key);
        this.probes.delete(event.key);
        waiter?.(event.at);
        return;
      }
      case 'count':
        this.started = event.started;
        return;
      case 'ack':
        this.settle((p) => p.resolve(event.at));
        return;
      case 'failed':
        this.settle((p) => p.reject(new Error(`bench: worker process, ${event.command}: ${event.message}`)));
        return;
      case 'ready':
        return;
    }
  }

  private settle(fn: (p: NonNullable<WorkerLink['pending']>) => void): void {
    const pending = this.pending;
    this.pending = undefined;
    if (pending) fn(pending);
  }
}
