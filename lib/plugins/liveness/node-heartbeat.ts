import type { NodeAdvert, NodeRows } from '../../store/cluster-store';

export interface HeartbeatSettings {
  node: string;
  advert: NodeAdvert;
  heartbeatInterval: number;
  nodeTtl: number;
  /** Hold the node's name with a session advisory lock (a Postgres server; embedded PGlite is one process). */
  lockName: boolean;
}

/** What the heartbeat tells the node as it goes. */
export type HeartbeatEvent =
  | { type: 'beat'; lapsed: boolean; first: boolean }
  | { type: 'beat-failed'; message: string }
  /** The name's lock is held by a session whose node has not beaten for nodeTtl: joined without the lock. */
  | { type: 'name-stale' }
  /** After a reconnect, another session holds the name: another process runs under it. */
  | { type: 'name-lost' };

/** `name-taken`: a live process already runs under this node name. */
export type JoinResult = 'joined' | 'name-taken';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A node's liveness: its name, held for as long as it runs, and its row in
 * `oban_nodes`, renewed every interval. It runs on a thread of its own where
 * it can (see thread-liveness.ts), so jobs that block the main loop cannot
 * stop it; nothing here touches the node's main loop.
 */
export class NodeHeartbeat {
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  private stopped = false;
  private joined = false;
  /** The connection session that holds the name's lock, or -1. */
  private nameSession = -1;
  /**
   * A beat later than this after the previous one starts a new unbroken run
   * (`started_at`): the database was out of reach for a while. Half a nodeTtl,
   * but never less than two intervals so an ordinary late beat does not.
   */
  private readonly streakBreak: number;

  constructor(
    private readonly rows: NodeRows,
    /** The connection's session count (see DedicatedConnection). */
    private readonly session: () => number,
    private readonly settings: HeartbeatSettings,
    private readonly report: (event: HeartbeatEvent) => void,
  ) {
    this.streakBreak = Math.max(settings.nodeTtl / 2, 2 * settings.heartbeatInterval);
  }

  /**
   * Takes the node's name and writes its first beat, then keeps beating.
   * When another session holds the name: if that node beats, it is alive
   * (`name-taken`); if it stays silent for a nodeTtl, the session is a
   * leftover of a crashed host, and the node joins without the lock.
   * Throws when the database cannot be reached.
   */
  async join(): Promise<JoinResult> {
    const { node, lockName, nodeTtl, heartbeatInterval } = this.settings;
    if (lockName) {
      const giveUpAt = performance.now() + nodeTtl;
      while (!(await this.takeName())) {
        if (await this.rows.alive(node)) return 'name-taken';
        if (performance.now() >= giveUpAt) {
          this.report({ type: 'name-stale' });
          break;
        }
        await sleep(heartbeatInterval);
        if (this.stopped) return 'name-taken';
      }
    }
    await this.beat(true);
    this.joined = true;
    this.schedule();
    return 'joined';
  }

  /** Stops beating and, if the node joined, removes its row (its jobs are done or left for rescue). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.beating;
    if (this.joined) await this.rows.remove(this.settings.node);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.beating = this.beat(false)
        .catch((error) => this.report({ type: 'beat-failed', message: (error as Error).message }))
        .finally(() => {
          this.beating = undefined;
          this.schedule();
        });
    }, this.settings.heartbeatInterval);
  }

  private async beat(first: boolean): Promise<void> {
    const { node, advert, nodeTtl, lockName } = this.settings;
    if (lockName && this.joined && this.nameSession !== this.session()) {
      // A new connection: the lock went with the old one.
      const held = this.nameSession >= 0;
      if (!(await this.takeName()) && held) this.report({ type: 'name-lost' });
    }
    const lapsed = await this.rows.beat(node, advert, nodeTtl, this.streakBreak, first);
    this.report({ type: 'beat', lapsed, first });
  }

  private async takeName(): Promise<boolean> {
    const taken = await this.rows.takeName(this.settings.node);
    this.nameSession = taken ? this.session() : -1;
    return taken;
  }
}
