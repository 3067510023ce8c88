import { OBAN_EVENT_NAMES, type ObanEventName } from './events';

export const OBAN_EVENT_LISTENER = Symbol('nest-oban:event-listener');

/**
 * Subscribes a provider's method to nest-oban events at boot:
 *
 *   @Injectable()
 *   class JobAudit {
 *     @OnObanEvent('job.stop')
 *     stopped(event: JobStopEvent) { ... }
 *   }
 *
 * Several names (or several decorators) subscribe the method to each.
 */
export function OnObanEvent(...names: ObanEventName[]): MethodDecorator {
  if (names.length === 0) throw new TypeError('@OnObanEvent(): name at least one event');
  for (const name of names) {
    if (!OBAN_EVENT_NAMES.includes(name)) {
      throw new TypeError(`@OnObanEvent('${String(name)}'): unknown event (events: ${OBAN_EVENT_NAMES.join(', ')})`);
    }
  }
  return (_target, _key, descriptor) => {
    const method = descriptor.value as object;
    const before: ObanEventName[] = Reflect.getMetadata(OBAN_EVENT_LISTENER, method) ?? [];
    Reflect.defineMetadata(OBAN_EVENT_LISTENER, [...before, ...names], method);
    return descriptor;
  };
}

/** The events a method was decorated for (empty if none). */
export function obanEventsOf(method: unknown): ObanEventName[] {
  if (typeof method !== 'function') return [];
  return Reflect.getMetadata(OBAN_EVENT_LISTENER, method) ?? [];
}
