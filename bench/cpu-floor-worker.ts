/** A plain process of the CPU floor: hashes each job it is sent, says when done. */
import { shaRounds } from './cpu-work';

process.on('message', (message: { type: string; key: number; rounds: number }) => {
  if (message.type !== 'job') return;
  shaRounds(message.rounds, message.key);
  process.send!({ type: 'job', key: message.key });
});
process.send!({ type: 'ready' });
