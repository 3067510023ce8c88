import { queryObjects } from 'node:v8';

/** Never instantiated: the heap walk of `queryObjects` has nothing to report. */
class NoInstances {}

/**
 * Gives V8's young generation back its initial size once the Nest context
 * has booted. Booting leaves it at 16-32 MB (128 MB on Node 24): the boot's
 * objects mostly survive, so V8 grows it, and it never shrinks it on its
 * own. A job that makes many short-lived objects wrapping native memory (a
 * SHA-256 chain) then ran 1.1-1.2x slower than in a bare process. From the
 * initial size V8 grows it again for jobs that keep what they allocate (a
 * large JSON document), so each kind of job gets the size that suits it.
 *
 * `v8.queryObjects` (Node 20.13+: every Node the package supports) is the
 * one call that runs V8's memory-reducing full collection (the one that
 * shrinks the young generation) without a heap snapshot; `gc()` does not
 * shrink it. It costs
 * about 150 ms once per process, at boot. Its one-time ExperimentalWarning
 * is no concern of the app's, so it is not emitted.
 */
export function resetYoungGeneration(): void {
  const emitWarning = process.emitWarning;
  process.emitWarning = (() => undefined) as typeof process.emitWarning;
  try {
    queryObjects(NoInstances, { format: 'count' });
  } finally {
    process.emitWarning = emitWarning;
  }
}
