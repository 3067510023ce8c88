import type { ChildProcess } from 'node:child_process';
import { forkWorker } from '../common/worker-process';

/** What a node process (node.ts) runs with, JSON in its argv. */
export interface NodeSettings {
  databaseUrl: string;
  prefix: string;
  /** Its name in `attempted_by`, so that the parent knows which jobs are whose. */
  node: string;
}

/** A node process, as its parent follows it. */
export class NodeProcess {
  /** Whether it leads now, by its last report. */
  leader = false;
  /** Each time it became leader, by the machine clock (epoch ms). */
  readonly elections: number[] = [];
  readonly ready: Promise<void>;
  private readonly child: ChildProcess;
  private readonly exited: Promise<unknown>;

  constructor(readonly settings: NodeSettings) {
    const { child, ready } = forkWorker(require.resolve('./node'), [JSON.stringify(settings)]);
    this.child = child;
    this.ready = ready;
    this.exited = new Promise((resolve) => child.once('exit', resolve));
    child.on('message', (message: { type: string; leader: boolean; at: number }) => {
      if (message.type !== 'leader') return;
      this.leader = message.leader;
      if (message.leader) this.elections.push(message.at);
    });
  }

  get name(): string {
    return this.settings.node;
  }

  /** kill -9: no shutdown code runs. Resolves, once the process is gone, with the time the kill was sent. */
  async kill(): Promise<number> {
    const at = Date.now();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
    return at;
  }
}
