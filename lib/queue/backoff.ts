/**
 * Oban's default: exponential in the attempt with a 15 s floor, the attempt
 * clamped so long-lived jobs (max_attempts > 20) still spread their retries
 * over the same range, plus up to 10% upward jitter so failures that happened
 * together do not retry together.
 */
export function defaultBackoff(attempt: number, maxAttempts: number, random: () => number = Math.random): number {
  const clamped = maxAttempts <= 20 ? attempt : Math.round((attempt / maxAttempts) * 20);
  const base = 15 + 2 ** Math.min(clamped, 20);
  return base + Math.floor(random() * 0.1 * base);
}
