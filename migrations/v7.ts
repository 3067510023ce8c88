/**
 * Version 7: `oban_nodes.processes`, the worker processes of each node as it
 * last reported them (`PoolProcessStats[]` as JSON: pid, ready, running, rss),
 * so the dashboard of any node can show every node's pool. Written by the node
 * itself every heartbeat interval (lib/plugins/pool-report.ts); null: not
 * reported (a node of an older version). A nullable column: a catalog change.
 */
export function upV7(schema: string): string[] {
  return [`ALTER TABLE ${schema}.oban_nodes ADD COLUMN IF NOT EXISTS processes jsonb`];
}

export function downV7(schema: string): string[] {
  return [`ALTER TABLE ${schema}.oban_nodes DROP COLUMN IF EXISTS processes`];
}
