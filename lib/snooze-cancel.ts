/**
 * Explicit outcomes of `perform` besides "return a value" (completed) and
 * "throw" (failed). Each is an Error, so it can be returned or thrown:
 *
 *   return snooze(30);            // or: throw snooze(30)
 *   return cancel('user deleted'); // or: throw new JobCancel('user deleted')
 */
const OUTCOME = Symbol.for('nest-oban.outcome');

/** Run the job again in `seconds`; the attempt does not count against `maxAttempts`. */
export class JobSnooze extends Error {
  override name = 'JobSnooze';
  readonly [OUTCOME] = 'snooze';
  constructor(readonly seconds: number) {
    super(`snoozed for ${seconds}s`);
    if (!Number.isFinite(seconds) || seconds < 0) {
      throw new RangeError(`snooze(seconds) needs a finite number >= 0, got ${String(seconds)}`);
    }
  }
}

/** Stop the job for good: it ends `cancelled` with the reason recorded in `errors`. */
export class JobCancel extends Error {
  override name = 'JobCancel';
  readonly [OUTCOME] = 'cancel';
  constructor(readonly reason: string) {
    super(reason);
  }
}

export function snooze(seconds: number): JobSnooze {
  return new JobSnooze(seconds);
}

export function cancel(reason: string): JobCancel {
  return new JobCancel(reason);
}

export function isSnooze(value: unknown): value is JobSnooze {
  return typeof value === 'object' && value !== null && (value as any)[OUTCOME] === 'snooze';
}

export function isCancel(value: unknown): value is JobCancel {
  return typeof value === 'object' && value !== null && (value as any)[OUTCOME] === 'cancel';
}
