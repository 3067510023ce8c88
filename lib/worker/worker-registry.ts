import { Inject, Injectable, type OnModuleInit, type Type } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { ObanConfigError, ObanValidationError } from '../errors';
import type { ResolvedWorkerRef } from '../validation/job-options';
import { type WorkerMetadata, getWorkerMetadata } from './worker.decorator';
import type { ObanWorker, WorkerClass } from './worker.interface';

/** A worker found in the app: its options, its instance, and the module that declares it. */
export interface RegisteredWorker {
  name: string;
  options: WorkerMetadata;
  instance: ObanWorker<any, any>;
  metatype: Type;
  /** The module whose `providers` declare the worker; a worker process boots this module. */
  hostModule: Type | undefined;
}

/**
 * Finds every `@Worker()` provider with Nest's DiscoveryService, in whatever
 * module declares it, and indexes them by name.
 */
@Injectable()
export class WorkerRegistry implements OnModuleInit {
  private byName: Map<string, RegisteredWorker> | undefined;
  private queues: Set<string> | undefined;

  // @Inject names the token: nest-oban must not depend on emitted decorator metadata.
  constructor(@Inject(DiscoveryService) private readonly discovery: DiscoveryService) {}

  onModuleInit(): void {
    this.workers();
  }

  get(name: string): RegisteredWorker | undefined {
    return this.workers().get(name);
  }

  all(): RegisteredWorker[] {
    return [...this.workers().values()];
  }

  /** Queues some registered worker declares (the registry never changes after discovery). */
  declaredQueues(): ReadonlySet<string> {
    this.queues ??= new Set(this.all().map((w) => w.options.queue));
    return this.queues;
  }

  /** Resolves what insert was given: a decorated class, or a worker's name. */
  resolve(ref: string | WorkerClass, where: string): ResolvedWorkerRef {
    if (typeof ref === 'string') {
      return { name: ref, metadata: this.get(ref)?.options };
    }
    const metadata = getWorkerMetadata(ref);
    if (!metadata) {
      const name = typeof ref === 'function' ? ref.name : String(ref);
      throw new ObanValidationError(
        `${where}: ${name || 'the value'} is not a worker; decorate the class with @Worker()`,
      );
    }
    return { name: metadata.name, metadata };
  }

  private workers(): Map<string, RegisteredWorker> {
    if (!this.byName) this.byName = this.explore();
    return this.byName;
  }

  private explore(): Map<string, RegisteredWorker> {
    const found = new Map<string, RegisteredWorker>();
    for (const wrapper of this.discovery.getProviders()) {
      const options = getWorkerMetadata(wrapper.metatype);
      if (!options || wrapper.inject) continue; // factory providers carry no worker class
      const moduleName = wrapper.host?.metatype?.name ?? 'an unknown module';
      if (!wrapper.isDependencyTreeStatic()) {
        throw new ObanConfigError(
          `@Worker() ${wrapper.metatype!.name} in ${moduleName} is request- or transient-scoped (or depends on such a provider); ` +
            `workers must be singletons`,
        );
      }
      const worker: RegisteredWorker = {
        name: options.name,
        options,
        instance: wrapper.instance as ObanWorker,
        metatype: wrapper.metatype as Type,
        hostModule: wrapper.host?.metatype as Type | undefined,
      };
      const existing = found.get(worker.name);
      if (existing) {
        throw new ObanConfigError(
          `two workers are named '${worker.name}': ${existing.metatype.name} in ${existing.hostModule?.name ?? '?'} ` +
            `and ${worker.metatype.name} in ${moduleName}. Give one of them another name with @Worker({ name })` +
            (existing.metatype === worker.metatype ? ' (or declare the class in one module only)' : ''),
        );
      }
      found.set(worker.name, worker);
    }
    return found;
  }
}
