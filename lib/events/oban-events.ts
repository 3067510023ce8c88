import * as diagnostics from 'node:diagnostics_channel';
import { Logger } from '@nestjs/common';
import { OBAN_EVENT_NAMES, type ObanEventMap, type ObanEventName, obanChannelName } from './events';

export type ObanEventListener<N extends ObanEventName> = (event: ObanEventMap[N]) => unknown;

/** Where the emitter reports a failing listener: a Nest Logger or any LoggerService-like object. */
export interface EventsLogger {
  error(message: string): unknown;
}

/**
 * nest-oban's lifecycle events. Inject it to listen:
 *
 *   constructor(events: ObanEvents) {
 *     events.on('job.stop', (e) => console.log(e.job.id, e.state, e.duration));
 *   }
 *
 * Each event also goes to the `node:diagnostics_channel` channel
 * `nest-oban:<name>`. Nothing is built when no one listens: emitters ask
 * `has(name)` first. A listener that throws (or rejects) is logged, once per
 * listener, and never affects the job or the component that emitted.
 */
export class ObanEvents {
  private readonly listeners = new Map<ObanEventName, Array<ObanEventListener<any>>>();
  private readonly channels = new Map<ObanEventName, diagnostics.Channel>();
  private readonly failedOnce = new WeakSet<object>();

  constructor(
    /** The node that emits (this process's `node`). */
    readonly node: string = '',
    private readonly logger: EventsLogger = new Logger('Oban'),
  ) {
    for (const name of OBAN_EVENT_NAMES) this.channels.set(name, diagnostics.channel(obanChannelName(name)));
  }

  /** Calls `listener` on each `name` event; returns a function that stops it. */
  on<N extends ObanEventName>(name: N, listener: ObanEventListener<N>): () => void {
    if (!this.channels.has(name)) {
      throw new TypeError(`ObanEvents.on: unknown event '${String(name)}' (events: ${OBAN_EVENT_NAMES.join(', ')})`);
    }
    if (typeof listener !== 'function') throw new TypeError(`ObanEvents.on('${name}'): listener must be a function`);
    const list = this.listeners.get(name) ?? [];
    // A new array: an emit in progress keeps calling the listeners it started with.
    this.listeners.set(name, [...list, listener]);
    return () => this.off(name, listener);
  }

  off<N extends ObanEventName>(name: N, listener: ObanEventListener<N>): void {
    const list = this.listeners.get(name);
    if (!list) return;
    const rest = list.filter((l) => l !== listener);
    if (rest.length > 0) this.listeners.set(name, rest);
    else this.listeners.delete(name);
  }

  /** Whether anyone listens to `name` (here or on its diagnostics channel): emitters check it before building a payload. */
  has(name: ObanEventName): boolean {
    return this.listeners.has(name) || this.channels.get(name)!.hasSubscribers;
  }

  /** Calls the listeners of `name`, then publishes on its channel. Never throws because of a listener. */
  emit<N extends ObanEventName>(name: N, event: ObanEventMap[N]): void {
    const list = this.listeners.get(name);
    if (list) {
      for (const listener of list) {
        try {
          const returned = listener(event);
          if (isThenable(returned)) returned.then(undefined, (error) => this.failed(name, listener, error));
        } catch (error) {
          this.failed(name, listener, error);
        }
      }
    }
    const channel = this.channels.get(name)!;
    // A subscriber that throws is reported by Node itself (as uncaught, on the next tick), never here.
    if (channel.hasSubscribers) channel.publish(event);
  }

  private failed(name: ObanEventName, listener: object, error: unknown): void {
    if (this.failedOnce.has(listener)) return;
    this.failedOnce.add(listener);
    const why = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    try {
      this.logger.error(
        `a listener of '${name}' threw (${why}); the job and nest-oban go on unaffected; ` +
          `this listener's later errors are not logged`,
      );
    } catch {
      // A broken logger must not break the emitter either.
    }
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}
