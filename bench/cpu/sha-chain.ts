import { createHash } from 'node:crypto';

/** Oban Pro's benchmark job: `rounds` iterations of SHA-256, each over the previous digest. */
export function shaChain(rounds: number, seed: string): string {
  let digest = createHash('sha256').update(seed).digest();
  for (let i = 1; i < rounds; i++) digest = createHash('sha256').update(digest).digest();
  return digest.toString('hex');
}
