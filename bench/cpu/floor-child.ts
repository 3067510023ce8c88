/** A plain forked process for the floor: computes the jobs it is sent, no queue, no Nest. */
import { shaChain } from './sha-chain';

process.on('message', (message: { job: number; rounds: number } | 'stop') => {
  if (message === 'stop') process.exit(0);
  else process.send!({ job: message.job, digest: shaChain(message.rounds, `job-${message.job}`) });
});
process.send!('ready');
