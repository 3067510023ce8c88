/**
 * The program of a node's heartbeat thread (a worker_threads Worker started
 * by thread-liveness.ts, found by path): the node's liveness on a connection
 * and an event loop of its own, so jobs that block the main loop cannot stop it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { NodeRows } from '../../store/cluster-store';
import { DedicatedConnection } from './dedicated-connection';
import { NodeHeartbeat } from './node-heartbeat';
import type { HeartbeatThreadData, HeartbeatThreadMessage, StopCommand } from './thread-messages';

const port = parentPort!;
const { connection, statements, settings } = workerData as HeartbeatThreadData;
const post = (message: HeartbeatThreadMessage) => port.postMessage(message);

const application = `${connection.application_name ?? 'nest-oban'} heartbeat`;
const database = new DedicatedConnection({ ...connection, application_name: application }, settings.nodeTtl);
const heartbeat = new NodeHeartbeat(new NodeRows(database, statements), () => database.session, settings, post);

port.on('message', async (message: StopCommand) => {
  if (message.cmd !== 'stop') return;
  let error: string | undefined;
  try {
    await heartbeat.stop();
  } catch (e) {
    error = (e as Error).message;
  }
  await database.close(); // which also lets the node's name go
  post({ type: 'stopped', error });
  port.close();
});

heartbeat.join().then(
  (result) => post({ type: result }),
  (error: Error) => post({ type: 'join-failed', message: error.message }),
);
