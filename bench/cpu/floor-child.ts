/** One plain process of the floor: hashes each job it is sent and says when it is done. No queue, no Nest. */
import { serveParent } from '../common/worker-process';
import { type ShaArgs, shaJob } from './sha-job';

process.on('message', (message: { type: string } & ShaArgs) => {
  if (message.type !== 'job') return;
  shaJob(message.hashes, message.key);
  process.send!({ type: 'job', key: message.key });
});
serveParent();
