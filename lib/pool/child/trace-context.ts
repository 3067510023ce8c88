import type * as otel from '@opentelemetry/api';
import { type TraceCarrier, parseTraceparent } from '../../events/hooks';

/** @opentelemetry/api when the app has it (an optional peer), else null; loaded on the first traced job only. */
let api: typeof otel | null | undefined;

function loadApi(): typeof otel | null {
  if (api === undefined) {
    try {
      api = require('@opentelemetry/api') as typeof otel;
    } catch {
      api = null;
    }
  }
  return api;
}

/**
 * Runs `fn` with the main process's consumer span (carried by the `run`
 * message) as the active context, so spans the job's perform starts here are
 * its children. Without @opentelemetry/api, or with no context manager
 * registered in this process (the app's SDK set-up), it just runs `fn`.
 */
export function inTraceContext<T>(carrier: TraceCarrier, fn: () => T): T {
  const found = loadApi();
  const parent = found && parseTraceparent(carrier.traceparent);
  if (!found || !parent) return fn();
  const traceState = carrier.tracestate ? found.createTraceState(carrier.tracestate) : undefined;
  const context = found.trace.setSpanContext(found.ROOT_CONTEXT, { ...parent, isRemote: true, traceState });
  return found.context.with(context, fn);
}
