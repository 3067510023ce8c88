import type { Database } from '../db/database';
import { type LimitStatements, buildLimitStatements } from '../db/limit-statements';
import { underQueueLock } from './limited-claim';

/** One node's lease on a queue's global limit, as stored (oban_limit_shares). */
export interface ShareRow {
  node: string;
  /** At most this many of the queue's jobs run on the node at once. */
  share: number;
  /** How many it would run: its local limit while it has work, 0 when idle. */
  wants: number;
}

/** What a node sees of a queue's shares under the queue's lock. */
export interface SharesView {
  /** Every node's row, this node's among them if it has one. */
  rows: ShareRow[];
  /** Executing jobs of other nodes that hold no share (they claim under the lock): taken from the limit too. */
  unleased: number;
}

/** What a node decides from the view: its share and wants, written in the same transaction. */
export interface ShareDecision {
  share: number;
  wants: number;
  /** Tell every node to claim again (a share shrank while others want more). */
  wake: boolean;
}

/**
 * The shares of queues' global limits leased to nodes (migrations/v8.ts;
 * queue/global-share.ts decides them). A node with a share claims along the
 * plain path, with no lock, and runs at most its share at once; only a change
 * of shares takes the queue's advisory lock, the one limited claims take, so
 * the shares and the jobs claimed under the lock stay within the limit together.
 */
export class LimitShares {
  private readonly sql: LimitStatements;

  constructor(
    private readonly db: Database,
    prefix: string,
    /** ms each statement may run, the lock's wait included (the `statementTimeout` option). */
    private readonly statementTimeout: number,
    private readonly insertChannel: string,
  ) {
    this.sql = buildLimitStatements(prefix);
  }

  /** Every node's share as committed now, without the lock: a look that decides whether to settle. */
  async look(queue: string, node: string): Promise<SharesView> {
    const [row] = await this.db.query<SharesRow>(this.sql.readShares, [queue, node]);
    return viewOf(row);
  }

  /** Under the queue's lock: reads every node's share, lets `decide` choose this node's, and writes it. */
  settle<D extends ShareDecision>(queue: string, node: string, decide: (view: SharesView) => D): Promise<D> {
    return underQueueLock(this.db, this.sql.lockQueue(queue), this.statementTimeout, async (tx) => {
      const [row] = await tx.query<SharesRow>(this.sql.readShares, [queue, node]);
      const decision = decide(viewOf(row));
      await tx.query(this.sql.writeShare, [queue, node, decision.share, decision.wants]);
      if (decision.wake) await tx.query('SELECT pg_notify($1, $2)', [this.insertChannel, queue]);
      return decision;
    });
  }

  /** Gives the node's share back (it runs none of the queue's jobs any more), and wakes the queue on every node. */
  async leave(queue: string, node: string): Promise<void> {
    await this.db.query(this.sql.dropShare, [queue, node, this.insertChannel]);
  }
}

/** What readShares returns. */
interface SharesRow {
  shares: ShareRow[] | string;
  unleased: number;
}

function viewOf(row: SharesRow): SharesView {
  const rows = typeof row.shares === 'string' ? (JSON.parse(row.shares) as ShareRow[]) : row.shares;
  return { rows, unleased: Number(row.unleased) };
}
