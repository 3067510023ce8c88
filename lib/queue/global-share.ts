import type { Logger } from '@nestjs/common';
import type { LimitShares, ShareDecision, ShareRow, SharesView } from '../store/limit-shares';

/**
 * This node's share of a queue's global limit (store/limit-shares.ts): a
 * queue with a global limit and neither a rate limit nor partitions leases
 * each node a share of it. The node runs at most its share at once and claims
 * along the plain path (no lock, claims ahead), so the limit costs a claim
 * nothing; only a change of shares takes the queue's lock.
 *
 * The split is max-min fair over what each node wants (its local limit while
 * it has work, 0 idle): each node in turn takes at most an even part of what
 * is left. A node grows only into what no one holds; a node over its part
 * shrinks to it as its jobs finish, and tells the others when it does. An idle
 * node keeps its share until someone wants more than it holds. Shares are
 * reviewed every REVIEW_MS (one unlocked read; the locked write only when the
 * share should change), and at once when the node has work its share holds back.
 */
export const REVIEW_MS = 250;
/** Settles of one queue on one node are at least this far apart. */
const MIN_GAP_MS = 20;

/** What the node's producer says of itself when a share is decided. */
export interface ShareNeeds {
  globalLimit: number;
  /** Its local limit while it has work; 0 when idle, paused or stopping. */
  wants: number;
  /** Its jobs started and not finished: its share never goes below them. */
  running: number;
}

/**
 * Max-min fair split of `limit` over `rows` by what each wants: in order of
 * wants (then of share held, then of name, so a split is the same on every
 * node and the node already holding more keeps the odd one), each takes at
 * most an even part of what is left.
 */
export function fairSplit(limit: number, rows: readonly ShareRow[]): Map<string, number> {
  const order = [...rows].sort((a, b) => a.wants - b.wants || a.share - b.share || (a.node < b.node ? -1 : 1));
  const split = new Map<string, number>();
  let left = Math.max(0, limit);
  order.forEach((row, i) => {
    const part = Math.min(row.wants, Math.floor(left / (order.length - i)));
    split.set(row.node, part);
    left -= part;
  });
  return split;
}

/** A share decided: `share` is written; `runs`, at most that, is how many may run here from now on. */
export interface NodeShare extends ShareDecision {
  /** Below `share` while the node shrinks: its running jobs keep the share written, no new one starts. */
  runs: number;
}

/** This node's share from what every node holds and wants (see the class comment). */
export function decideShare(view: SharesView, node: string, needs: ShareNeeds): NodeShare {
  const held = view.rows.find((r) => r.node === node)?.share ?? 0;
  const others = view.rows.filter((r) => r.node !== node);
  const rows = [...others, { node, share: held, wants: needs.wants }];
  const takenByOthers = others.reduce((sum, r) => sum + r.share, 0) + view.unleased;
  const room = needs.globalLimit - takenByOthers;
  const othersStarved = others.some((r) => r.wants > r.share);
  let part = fairSplit(needs.globalLimit, rows).get(node)!;
  // Idle with nobody waiting and the limit kept: hold on, so the next job needs no settle.
  if (part < held && !othersStarved && room >= held) part = held;
  const target = part > held ? Math.min(part, Math.max(held, room)) : part;
  const share = Math.max(target, needs.running);
  return { share, wants: needs.wants, wake: share < held && othersStarved, runs: target };
}

/** One queue's share on this node, kept up to date with the others'. */
export class GlobalShare {
  /** What this node may run of the queue at once. Lowered before a shrink is written, raised after a grow is. */
  private current = 0;
  private written: { share: number; wants: number } | undefined;
  private settling: Promise<void> | undefined;
  private again = false;
  private lastAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly store: LimitShares,
    private readonly queue: string,
    private readonly node: string,
    private readonly needs: () => ShareNeeds,
    /** The share grew: claim again. */
    private readonly grew: () => void,
    private readonly logger: Logger,
  ) {}

  get share(): number {
    return this.current;
  }

  /** The node has work its share holds back: settle now (or as soon as the gap allows). */
  request(): void {
    if (this.closed) return;
    if (this.settling) {
      this.again = true;
      return;
    }
    const wait = this.lastAt + MIN_GAP_MS - performance.now();
    if (wait > 0) return this.schedule(wait);
    this.settling = this.settle().finally(() => {
      this.settling = undefined;
      this.lastAt = performance.now();
      if (this.again) {
        this.again = false;
        this.request();
      } else this.schedule(REVIEW_MS);
    });
  }

  /**
   * Stops reviewing and gives the share back. Jobs still running here are
   * `executing` rows of a node without a share then, which every node counts
   * against the limit instead (limit-statements.ts, `unleased`).
   */
  async leave(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.settling;
    if (this.written === undefined) return;
    this.current = 0;
    this.written = undefined;
    await this.store.leave(this.queue, this.node);
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const { wants } = this.needs();
      // Nothing held and nothing wanted: nothing to review until the queue has work.
      if (this.current === 0 && wants === 0 && (this.written?.wants ?? 0) === 0) return;
      this.request();
    }, ms);
    this.timer.unref();
  }

  private async settle(): Promise<void> {
    try {
      // An unlocked look first: most reviews change nothing and write nothing. (Only this node writes its row.)
      if (this.written) {
        const view = await this.store.look(this.queue, this.node);
        const row = view.rows.find((r) => r.node === this.node);
        const next = decideShare(view, this.node, this.needs());
        if (row && row.share === next.share && row.wants === next.wants) {
          const before = this.current;
          this.current = next.runs;
          if (this.current > before) this.grew();
          return;
        }
      }
      const decision = await this.store.settle(this.queue, this.node, (view) => {
        const next = decideShare(view, this.node, this.needs());
        // Lower at once, before the write commits: no job starts beyond the share being written.
        if (next.runs < this.current) this.current = next.runs;
        return next;
      });
      this.written = { share: decision.share, wants: decision.wants };
      const before = this.current;
      this.current = decision.runs;
      if (this.current > before) this.grew();
    } catch (error) {
      this.logger.warn(
        `the share of queue '${this.queue}' in its global limit could not be settled (${(error as Error).message}); ` +
          `running within ${this.current} meanwhile, trying again in ${REVIEW_MS} ms`,
      );
    }
  }
}
