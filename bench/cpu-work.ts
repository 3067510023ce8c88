import { createHash } from 'node:crypto';

/** Oban Pro's benchmark job: `rounds` SHA-256 hashes, each over the previous digest. */
export function shaRounds(rounds: number, seed: number): string {
  let digest = createHash('sha256').update(`seed-${seed}`).digest();
  for (let i = 0; i < rounds; i++) digest = createHash('sha256').update(digest).digest();
  return digest.toString('hex');
}
