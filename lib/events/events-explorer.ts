import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { ObanEvents } from './oban-events';
import { obanEventsOf } from './on-oban-event.decorator';

/**
 * At boot, subscribes every `@OnObanEvent()` method of the app's providers
 * and controllers (singletons; a request-scoped provider has no instance to
 * call). They stay subscribed for the app's life, shutdown included.
 */
@Injectable()
export class ObanEventsExplorer implements OnModuleInit {
  constructor(
    @Inject(DiscoveryService) private readonly discovery: DiscoveryService,
    @Inject(MetadataScanner) private readonly scanner: MetadataScanner,
    @Inject(ObanEvents) private readonly events: ObanEvents,
  ) {}

  onModuleInit(): void {
    const seen = new Set<object>();
    for (const wrapper of [...this.discovery.getProviders(), ...this.discovery.getControllers()]) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object' || !wrapper.isDependencyTreeStatic() || seen.has(instance))
        continue;
      seen.add(instance);
      const prototype = Object.getPrototypeOf(instance);
      if (!prototype) continue;
      for (const key of this.scanner.getAllMethodNames(prototype)) {
        const method = prototype[key];
        for (const name of obanEventsOf(method)) {
          this.events.on(name, (event) => method.call(instance, event));
        }
      }
    }
  }
}
