import type { Logger } from '@nestjs/common';
import type { ClientConfig } from 'pg';
import { PgDatabase } from '../../db/pg-database';
import { unnamed } from '../../db/pg-query';
import { type ClusterStore, NodeRows } from '../../store/cluster-store';
import { DedicatedConnection } from './dedicated-connection';
import { InProcessLiveness } from './in-process-liveness';
import type { HeartbeatListener, NodeLiveness } from './liveness';
import type { HeartbeatSettings } from './node-heartbeat';
import { ThreadLiveness } from './thread-liveness';

/** The connection settings a thread needs; the rest of a pool's options (functions, say) stay behind. */
const THREAD_CONNECTION_KEYS = [
  'connectionString',
  'host',
  'port',
  'user',
  'password',
  'database',
  'ssl',
  'options',
  'statement_timeout',
  'client_encoding',
  'application_name',
  'fallback_application_name',
] as const;

/**
 * The node's liveness where it runs best: on a Postgres server, a thread of
 * its own with its own connection that also holds the node's name; on
 * embedded PGlite (one process), the main loop. When the connection settings
 * cannot go to a thread (a password given as a function, say), the heartbeat
 * keeps its own connection on the main loop, with a warning.
 */
export function createLiveness(
  cluster: ClusterStore,
  settings: Omit<HeartbeatSettings, 'lockName'>,
  listener: HeartbeatListener,
  logger: Logger,
): NodeLiveness {
  const { db, sql } = cluster;
  if (!(db instanceof PgDatabase)) {
    return new InProcessLiveness(new NodeRows(db, sql), () => 0, { ...settings, lockName: false }, listener);
  }
  // Behind a transaction pooler without a direct URL there is no lasting session: no name lock, no prepared statements.
  const session = db.sessionConfig();
  const connection = session ?? db.connectionConfig();
  const full = { ...settings, lockName: session !== undefined };
  const prepare = session !== undefined ? <S>(s: S) => s : unnamed;
  const statements = {
    beatNode: prepare(sql.beatNode),
    takeNodeName: prepare(sql.takeNodeName),
    nodeAlive: prepare(sql.nodeAlive),
    removeNode: prepare(sql.removeNode),
  };
  const forThread = threadConnection(connection);
  if (forThread) return new ThreadLiveness({ connection: forThread, statements, settings: full }, listener, logger);
  logger.warn(
    `node ${settings.node}: the heartbeat runs on the main loop (the connection settings hold functions, ` +
      `which cannot go to a thread); jobs that block it for longer than nodeTtl (${settings.nodeTtl} ms) ` +
      `may be rescued and run twice`,
  );
  const own = new DedicatedConnection(connection, settings.nodeTtl);
  return new InProcessLiveness(
    new NodeRows(own, statements),
    () => own.session,
    full,
    listener,
    () => own.close(),
  );
}

/** The settings a thread can take (plain data), or undefined. */
function threadConnection(config: ClientConfig): ClientConfig | undefined {
  const picked: Record<string, unknown> = {};
  for (const key of THREAD_CONNECTION_KEYS) if (config[key] !== undefined) picked[key] = config[key];
  try {
    return structuredClone(picked) as ClientConfig;
  } catch {
    return undefined;
  }
}
