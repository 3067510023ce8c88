import type { Job } from '../job';

/**
 * The seam an optional integration (nest-oban/tracing) registers into: the
 * insert paths and the executor call these hooks when one is registered, and
 * do no work at all when none is. Nothing here knows OpenTelemetry.
 */

/** A W3C trace context (https://www.w3.org/TR/trace-context/): in a job's meta, and on the IPC hop to a worker process. */
export interface TraceCarrier {
  traceparent: string;
  tracestate?: string;
}

/** One insert call: its rows, whose `meta` a hook may add to before they are written. */
export interface InsertCall {
  /** `workflow`: a workflow's steps (or an append); `batch`: a batch's members (at insert or `addToBatch`). */
  operation: 'insert' | 'insertAll' | 'cron' | 'workflow' | 'batch';
  rows: Array<{ queue: string; worker: string; meta: Record<string, unknown> }>;
}

/** Wraps one insert call: may add to each row's meta, then calls `write`; `ids` reads the job ids written. */
export type InsertHook = <T>(call: InsertCall, write: () => Promise<T>, ids: (written: T) => number[]) => Promise<T>;

/** How an attempt ended, as far as a hook needs it (null: nothing was written, cancelled or left at shutdown). */
export type AttemptEnd = { kind: string; error?: { message: string; stack?: string } } | null;

/**
 * Wraps one attempt of a job: `run` runs it (in this process, or in a worker
 * process that is handed `trace`, the context its `perform` runs in).
 */
export type AttemptHook = <T extends AttemptEnd>(
  job: Job,
  run: (trace: TraceCarrier | undefined) => Promise<T>,
) => Promise<T>;

/** The hooks of this node; one integration at a time holds each. */
export class ObanHooks {
  insert: InsertHook | undefined;
  attempt: AttemptHook | undefined;

  /** Sets the given hooks; returns a function that removes them again. */
  register(hooks: { insert?: InsertHook; attempt?: AttemptHook }): () => void {
    if ((hooks.insert && this.insert) || (hooks.attempt && this.attempt)) {
      throw new Error('ObanHooks: another integration has registered these hooks already');
    }
    if (hooks.insert) this.insert = hooks.insert;
    if (hooks.attempt) this.attempt = hooks.attempt;
    return () => {
      if (this.insert === hooks.insert) this.insert = undefined;
      if (this.attempt === hooks.attempt) this.attempt = undefined;
    };
  }
}

/** A W3C `traceparent` read into its parts, or undefined when it is not a valid one. */
export function parseTraceparent(value: unknown): { traceId: string; spanId: string; traceFlags: number } | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/.exec(value.trim());
  if (!match || match[1] === 'ff' || (match[1] === '00' && match[5] !== undefined)) return undefined;
  const [, , traceId, spanId, flags] = match;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return { traceId, spanId, traceFlags: parseInt(flags, 16) };
}

/** The W3C `traceparent` of a span context. */
export function formatTraceparent(context: { traceId: string; spanId: string; traceFlags: number }): string {
  return `00-${context.traceId}-${context.spanId}-${(context.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}
