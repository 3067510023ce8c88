/** One plain process of the floor: runs each job it is sent and says when it is done. No queue, no Nest. */
import { serveParent } from '../common/worker-process';
import { type FloorJob, runFloorJob } from './floor-job';

process.on('message', (message: { type: string } & FloorJob) => {
  if (message.type !== 'job') return;
  runFloorJob(message);
  process.send!({ type: 'job', key: message.key });
});
serveParent();
