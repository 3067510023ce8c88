/**
 * One worker process of graphile-worker or pg-boss: runs the batch's SHA jobs
 * until told to stop. argv: library, database URL, schema, concurrency.
 */
import { serveParent } from '../common/worker-process';
import { loadPeer, type PeerName } from './peers';
import { shaJob } from './sha-job';

const [system, url, schema, concurrency] = process.argv.slice(2);
loadPeer(system as PeerName)
  .worker(url, schema, Number(concurrency), (args) => void shaJob(args.hashes, args.key))
  .then(serveParent, (error) => {
    console.error(error);
    process.exit(1);
  });
