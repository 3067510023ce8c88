import { type ChildProcess, fork } from 'node:child_process';
import * as path from 'node:path';
import type { TestNodeSettings } from '../fixtures/cluster/node';

/** One leadership tenure of a node, by the machine clock: [since, until]. */
export interface Tenure {
  node: string;
  since: number;
  until: number;
}

/** A forked node process (test/fixtures/cluster/node.ts). */
export class TestNode {
  readonly exited: Promise<number | null>;
  /** Leadership tenures this node reported, the last one still growing while it leads. */
  readonly tenures: Tenure[] = [];
  node = '';
  killedAt: number | undefined;
  private readyResolve!: () => void;
  readonly ready: Promise<void>;

  constructor(readonly child: ChildProcess) {
    this.ready = new Promise((resolve, reject) => {
      this.readyResolve = resolve;
      child.once('exit', (code) => reject(new Error(`test node exited with ${code} before it was ready`)));
    });
    this.ready.catch(() => undefined);
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    child.on('message', (message: any) => {
      if (message.type === 'ready') {
        this.node = message.node;
        this.readyResolve();
      }
      if (message.type === 'leader') this.onLeader(message);
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Graceful: the node drains, gives up leadership and exits. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.child.send({ cmd: 'stop' });
    await this.exited;
  }

  /**
   * kill -9: no shutdown code runs. Returns the time the process was seen
   * gone, after which it surely did nothing (`killedAt`: when the kill was sent).
   */
  async kill(): Promise<number> {
    this.killedAt = Date.now();
    process.kill(this.pid, 'SIGKILL');
    await this.exited;
    return Date.now();
  }

  private onLeader(message: { node: string; leader: boolean; since?: number; until: number }) {
    this.node = message.node;
    const last = this.tenures[this.tenures.length - 1];
    if (message.leader) {
      if (last && last.since === message.since) last.until = message.until;
      else this.tenures.push({ node: message.node, since: message.since!, until: message.until });
    } else if (last) {
      last.until = Math.min(last.until, message.until);
    }
  }
}

export function startNode(settings: TestNodeSettings): TestNode {
  const child = fork(path.join(__dirname, '../fixtures/cluster/node.ts'), [], {
    execArgv: ['-r', 'ts-node/register'],
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true', OBAN_TEST_NODE: JSON.stringify(settings) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new TestNode(child);
}

/** Throws if two nodes' tenures overlap (the test's evidence of split leadership). */
export function assertNoOverlap(tenures: Tenure[]): void {
  for (const a of tenures) {
    for (const b of tenures) {
      if (a.node !== b.node && a.since <= b.since && b.since < a.until) {
        throw new Error(`two leaders at once: ${a.node} led ${a.since}..${a.until} and ${b.node} from ${b.since}`);
      }
    }
  }
}

/** Nodes whose reported tenure covers the moment `at`. */
export function leadersAt(nodes: TestNode[], at = Date.now()): TestNode[] {
  return nodes.filter((n) => n.tenures.some((t) => t.since <= at && at < t.until));
}

/** SIGKILLs whatever is still running (after a failed test). */
export async function killAll(nodes: TestNode[]): Promise<void> {
  await Promise.all(nodes.filter((n) => n.child.exitCode === null && n.child.signalCode === null).map((n) => n.kill()));
}
