import { fork } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after } from 'node:test';
import type { LivenessNodeSettings, RunEvent } from '../fixtures/faults-liveness/node';
import { TestNode, killAll } from './cluster';
import { DATABASE_URL, TestSchema } from './db';

/** A node process of test/fixtures/faults-liveness/node.ts, with what it wrote to stderr. */
export class LivenessNode extends TestNode {
  private errors = '';

  constructor(child: ReturnType<typeof fork>) {
    super(child);
    child.stderr?.on('data', (chunk: Buffer) => {
      this.errors += chunk.toString();
      process.stderr.write(chunk);
    });
  }

  get stderr(): string {
    return this.errors;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
}

/**
 * One liveness test file's world on the shared database: its schema, the
 * folder its nodes write their runs to, and the nodes it starts (killed, and
 * all of it removed, after the file). `settings` fills in where the nodes go.
 */
export function livenessWorld(label: string) {
  const schema = new TestSchema(label);
  const runs = runsDir();
  const nodes: LivenessNode[] = [];
  after(async () => {
    await killAll(nodes);
    await schema.drop();
    runs.remove();
  });
  const settings = <T extends Omit<LivenessNodeSettings, 'prefix' | 'databaseUrl' | 'runsDir'>>(rest: T) => ({
    prefix: schema.prefix,
    databaseUrl: DATABASE_URL,
    runsDir: runs.dir,
    ...rest,
  });
  return { schema, runs, nodes, settings };
}

export function startLivenessNode(settings: LivenessNodeSettings): LivenessNode {
  const child = fork(path.join(__dirname, '../fixtures/faults-liveness/node.ts'), [], {
    execArgv: ['-r', 'ts-node/register'],
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true', OBAN_TEST_NODE: JSON.stringify(settings) },
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  return new LivenessNode(child);
}

/** One run of a job, as the node recorded it; `end` undefined: still running, or its process died. */
export interface Run {
  job: number;
  attempt: number;
  node: string;
  pid: number;
  start: number;
  end: number | undefined;
}

/** A temp folder the nodes write their runs files to. */
export function runsDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'oban-runs-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function readRuns(dir: string): Run[] {
  if (!existsSync(dir)) return [];
  const runs = new Map<string, Run>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.jsonl'))) {
    for (const line of readFileSync(path.join(dir, file), 'utf8').split('\n')) {
      if (!line) continue;
      const e = JSON.parse(line) as RunEvent;
      if (e.event === 'start') {
        runs.set(e.run, { job: e.job, attempt: e.attempt, node: e.node, pid: e.pid, start: e.at, end: undefined });
      } else {
        runs.get(e.run)!.end = e.at;
      }
    }
  }
  return [...runs.values()];
}

/** Runs grouped by job id. */
export function runsByJob(runs: Run[]): Map<number, Run[]> {
  const byJob = new Map<number, Run[]>();
  for (const run of runs) byJob.set(run.job, [...(byJob.get(run.job) ?? []), run]);
  return byJob;
}

/**
 * Every pair of runs of one job that overlapped in time, described. A run
 * without an end lasts until `openEnd` (a killed process's death), or forever.
 */
export function overlappingRuns(runs: Run[], openEnd: (run: Run) => number = () => Infinity): string[] {
  const found: string[] = [];
  for (const [job, list] of runsByJob(runs)) {
    for (const a of list) {
      for (const b of list) {
        if (a === b || a.start > b.start) continue;
        const aEnd = a.end ?? openEnd(a);
        if (b.start < aEnd) {
          found.push(
            `job ${job}: attempt ${a.attempt} on ${a.node} (${a.start}..${a.end ?? 'open'}) ` +
              `and attempt ${b.attempt} on ${b.node} from ${b.start}`,
          );
        }
      }
    }
  }
  return found;
}

/** Jobs that ran more than once, described. */
export function repeatedRuns(runs: Run[]): string[] {
  return [...runsByJob(runs)]
    .filter(([, list]) => list.length > 1)
    .map(
      ([job, list]) => `job ${job} ran ${list.length} times (${list.map((r) => `${r.node}@${r.start}`).join(', ')})`,
    );
}
