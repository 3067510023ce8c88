import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Job } from '../../lib';
import { CrashSuspects } from '../../lib/pool/crash-suspects';
import type { RunEnd } from '../../lib/pool/pool-child';

const job = (id: number) => ({ id }) as Job;
const exitError = { message: 'WorkerProcessExitError: worker process 7 was killed by SIGKILL while running this job' };
const died = (held: number): RunEnd => ({ kind: 'exit', error: exitError, held });
const result = { kind: 'completed', result: null } as const;

describe('CrashSuspects: who pays when a worker process dies', () => {
  it('puts back the jobs of a death it cannot attribute, charges a job that died alone, clears one that finished', () => {
    const suspects = new CrashSuspects();
    assert.equal(suspects.outcomeOf(job(1), died(3)).kind, 'released');
    assert.equal(suspects.outcomeOf(job(2), died(3)).kind, 'released');
    assert.deepEqual([suspects.has(1), suspects.has(2)], [true, true], 'both run alone next');

    assert.deepEqual(suspects.outcomeOf(job(1), died(1)), { kind: 'failed', error: exitError });
    assert.equal(suspects.has(1), true, 'a job that killed its process runs alone on its retries too');

    assert.deepEqual(suspects.outcomeOf(job(2), { kind: 'outcome', outcome: result }), result);
    assert.equal(suspects.has(2), false, 'a suspect that ran to its end is cleared');
  });

  it('neither charges nor suspects the jobs of a process the pool stopped', () => {
    const suspects = new CrashSuspects();
    const end: RunEnd = {
      kind: 'exit',
      error: exitError,
      held: 2,
      stoppedBecause: 'worker process 7 was stopped for another job',
    };
    assert.deepEqual(suspects.outcomeOf(job(1), end), {
      kind: 'released',
      reason: 'worker process 7 was stopped for another job',
    });
    assert.equal(suspects.has(1), false);
  });

  it('forgets suspects after their lifetime, and the oldest beyond its size', () => {
    let now = 0;
    const suspects = new CrashSuspects(3, 1_000, () => now);
    for (const id of [1, 2, 3]) suspects.outcomeOf(job(id), died(2));
    now = 500;
    suspects.outcomeOf(job(4), died(2));
    assert.deepEqual(
      [1, 2, 3, 4].map((id) => suspects.has(id)),
      [false, true, true, true],
      'the oldest went first',
    );
    assert.equal(suspects.size, 3);
    now = 1_000;
    assert.deepEqual(
      [2, 3, 4].map((id) => suspects.has(id)),
      [false, false, true],
      'then the expired',
    );
    now = 1_500;
    assert.equal(suspects.size, 0);
  });
});
