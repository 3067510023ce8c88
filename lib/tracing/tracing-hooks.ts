import {
  type Context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  context,
  createTraceState,
  trace,
} from '@opentelemetry/api';
import {
  type AttemptEnd,
  type AttemptHook,
  type InsertHook,
  type TraceCarrier,
  formatTraceparent,
  parseTraceparent,
} from '../events/hooks';
import type { Job } from '../job';

/** `messaging.system` of every span: OpenTelemetry's messaging conventions, with nest-oban as the system. */
export const MESSAGING_SYSTEM = 'nest-oban';

/** The W3C context of a span, as stored in a job's meta and sent to a worker process. */
function carrierOf(span: Span): TraceCarrier {
  const spanContext = span.spanContext();
  const tracestate = spanContext.traceState?.serialize();
  const carrier: TraceCarrier = { traceparent: formatTraceparent(spanContext) };
  if (tracestate) carrier.tracestate = tracestate;
  return carrier;
}

/** The producer's context stored in a job's meta (the consumer span's parent), or the root when there is none. */
function contextOfJob(job: Job): Context {
  const meta = job.meta as Record<string, unknown> | null;
  const parent = parseTraceparent(meta?.traceparent);
  if (!parent) return ROOT_CONTEXT;
  const tracestate = typeof meta?.tracestate === 'string' ? meta.tracestate : undefined;
  const traceState = tracestate ? createTraceState(tracestate) : undefined;
  return trace.setSpanContext(ROOT_CONTEXT, { ...parent, isRemote: true, traceState });
}

function failSpan(span: Span, error: { message: string; stack?: string; name?: string }): void {
  span.recordException({ message: error.message, stack: error.stack, name: error.name });
  span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
}

function thrown(error: unknown): { message: string; stack?: string; name?: string } {
  if (error instanceof Error) return { message: error.message, stack: error.stack, name: error.name };
  return { message: String(error) };
}

/** Runs `fn` with `span` active (in `parent`) and hands `ended` its value; a throw is the span's error. Ends the span. */
async function within<T>(span: Span, parent: Context, fn: () => Promise<T>, ended: (value: T) => void): Promise<T> {
  try {
    const value = await context.with(trace.setSpan(parent, span), fn);
    ended(value);
    return value;
  } catch (error) {
    failSpan(span, thrown(error));
    throw error;
  } finally {
    span.end();
  }
}

/**
 * A PRODUCER span per insert call (`send <queue>`), a child of the caller's
 * active context; its context goes into each row's meta as `traceparent`
 * (and `tracestate`), and it is active while the rows are written.
 */
export function insertHook(tracer: Tracer): InsertHook {
  return async (call, write, ids) => {
    const queues = [...new Set(call.rows.map((r) => r.queue))];
    const workers = [...new Set(call.rows.map((r) => r.worker))];
    const destination = queues.length === 1 ? queues[0] : undefined;
    const span = tracer.startSpan(
      destination === undefined ? 'send' : `send ${destination}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          'messaging.system': MESSAGING_SYSTEM,
          'messaging.operation.type': 'send',
          'messaging.operation.name': call.operation,
          ...(destination !== undefined && { 'messaging.destination.name': destination }),
          ...(call.operation !== 'insert' &&
            call.operation !== 'cron' && { 'messaging.batch.message_count': call.rows.length }),
          ...(workers.length === 1 && { 'nest-oban.job.worker': workers[0] }),
        },
      },
      context.active(),
    );
    const carrier = carrierOf(span);
    for (const row of call.rows) row.meta = { ...row.meta, ...carrier };
    return within(span, context.active(), write, (written) => {
      const jobIds = ids(written);
      if (jobIds.length === 1) span.setAttribute('messaging.message.id', String(jobIds[0]));
      // Another node (or an earlier leader) had inserted this slot: nothing was written.
      if (call.operation === 'cron' && jobIds.length === 0) span.setAttribute('nest-oban.cron.slot_taken', true);
    });
  };
}

/**
 * A CONSUMER span per attempt (`process <queue>`), whose parent is the
 * producer's context from the job's meta; active while perform runs, and
 * handed to a worker process for a `cpu: true` job. A failed or discarded
 * attempt sets status ERROR with its error.
 */
export function attemptHook(tracer: Tracer): AttemptHook {
  return async <T extends AttemptEnd>(job: Job, run: (trace: TraceCarrier | undefined) => Promise<T>) => {
    const parent = contextOfJob(job);
    const span = tracer.startSpan(
      `process ${job.queue}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.system': MESSAGING_SYSTEM,
          'messaging.destination.name': job.queue,
          'messaging.operation.type': 'process',
          'messaging.operation.name': 'perform',
          'messaging.message.id': String(job.id),
          'nest-oban.job.worker': job.worker,
          'nest-oban.job.attempt': job.attempt,
          'nest-oban.job.max_attempts': job.maxAttempts,
        },
      },
      parent,
    );
    return within(
      span,
      parent,
      () => run(carrierOf(span)),
      (end) => {
        if (!end) return;
        span.setAttribute('nest-oban.job.outcome', end.kind);
        if ((end.kind === 'failed' || end.kind === 'discarded') && end.error) failSpan(span, end.error);
      },
    );
  };
}
