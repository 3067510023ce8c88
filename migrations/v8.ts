/**
 * Version 8: `oban_limit_shares`, the shares of a queue's global limit leased
 * to each node (lib/store/limit-shares.ts). A node runs at most its share of
 * the queue at once, and claims along the plain path, with no lock; shares
 * change under the queue's advisory lock, where their sum is kept within the
 * limit. `wants`: how many the node would run (its local limit while it has
 * work, 0 when idle), which the fair split is made from. A new small table:
 * no lock on `oban_jobs`.
 */
export function upV8(schema: string): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${schema}.oban_limit_shares (
       queue text NOT NULL,
       node text NOT NULL,
       share integer NOT NULL CHECK (share >= 0),
       wants integer NOT NULL CHECK (wants >= 0),
       updated_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (queue, node)
     )`,
  ];
}

export function downV8(schema: string): string[] {
  return [`DROP TABLE IF EXISTS ${schema}.oban_limit_shares`];
}
