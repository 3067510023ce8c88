import type { Provider, Type } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';

/**
 * Makes the module holding the node (ObanRuntime) the first whose
 * `onModuleDestroy` runs at shutdown, so running jobs finish while every
 * provider they use is still up, the root module's own ones included.
 *
 * Nest runs destroy hooks by distance from the root, nearest first: the root
 * module (distance 1), then the modules it imports (2), and so on. A worker's
 * service declared in the root module was torn down before the node had
 * drained. Distance 0 puts the node's module ahead of the root for destroy
 * and, the order being reversed for start-up, after everything else for init
 * and bootstrap, where the node starts once the whole app is up anyway. Set
 * while providers are built, before Nest reads the order for its first hook.
 */
export function stopFirstProvider(module: Type): Provider {
  return {
    provide: Symbol.for('nest-oban.stop-first'),
    useFactory: (modules: ModulesContainer) => {
      for (const ref of modules.values()) if (ref.metatype === module) ref.distance = 0;
      return true;
    },
    inject: [ModulesContainer],
  };
}
