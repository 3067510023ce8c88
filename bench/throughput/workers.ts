/**
 * A system's worker process: runs the library's workers on the jobs its
 * producer process (producer.ts) stores, in an OS process of its own, as a
 * deployment runs them. Counts task starts, reports a probe job's start time
 * at once, and does what the producer asks (worker-protocol.ts).
 */
import type { SystemName } from '../common/systems';
import { epochNow } from './clock';
import type { OnJob, WorkerSide } from './system';
import type { WorkerCommand, WorkerEvent } from './worker-protocol';

const [system, url, location] = process.argv.slice(2) as [SystemName, string, string];
const send = (event: WorkerEvent) => process.send!(event);

let started = 0;
let reported = 0;
const onJob: OnJob = (key, probe) => {
  if (probe) send({ type: 'probe', key, at: epochNow() });
  else started++;
};
setInterval(() => {
  if (started === reported) return;
  reported = started;
  send({ type: 'count', started });
}, 20).unref();

/** Loads only the library under test into this process. */
function load(): WorkerSide {
  switch (system) {
    case 'nest-oban':
      return new (require('./systems/nest-oban') as typeof import('./systems/nest-oban')).NestObanWorkers(
        url,
        location,
        onJob,
      );
    case 'graphile-worker':
    case 'graphile-worker-tuned': {
      const { GraphileWorkerWorkers } =
        require('./systems/graphile-worker') as typeof import('./systems/graphile-worker');
      return new GraphileWorkerWorkers(url, location, system === 'graphile-worker' ? 'defaults' : 'tuned', onJob);
    }
    case 'pg-boss':
    case 'pg-boss-tuned': {
      const { PgBossWorkers } = require('./systems/pg-boss') as typeof import('./systems/pg-boss');
      return new PgBossWorkers(url, location, system === 'pg-boss' ? 'defaults' : 'tuned', onJob);
    }
    case 'bullmq':
      return new (require('./systems/bullmq') as typeof import('./systems/bullmq')).BullMqWorkers(location, onJob);
    case 'postgres-floor': {
      const { PostgresFloorWorkers } = require('./systems/postgres-floor') as typeof import('./systems/postgres-floor');
      return new PostgresFloorWorkers(url, location, onJob);
    }
  }
}

const workers = load();

async function run(command: WorkerCommand): Promise<number | undefined> {
  switch (command.type) {
    case 'prepare':
      started = 0;
      reported = 0;
      await workers.prepare(command.plan);
      return;
    case 'start':
      return void (await workers.start());
    case 'stop':
      return void (await workers.stop());
    case 'close':
      return void (await workers.close());
    case 'ping':
      return epochNow();
  }
}

process.on('message', (command: WorkerCommand) => {
  run(command).then(
    (at) => {
      send({ type: 'ack', command: command.type, at });
      if (command.type === 'close') process.disconnect();
    },
    (error: Error) => send({ type: 'failed', command: command.type, message: error.stack ?? error.message }),
  );
});
// The producer went away: nothing left to do.
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
