import type { DynamicModule, Type } from '@nestjs/common';
import { getWorkerMetadata } from '../../worker/worker.decorator';

/** A module as it appears in `imports`: a class, or a dynamic module object. */
export type ModuleRef = Type | DynamicModule;

const IMPORTS = 'imports';
const PROVIDERS = 'providers';
const GLOBAL = '__module:global__';

/** Nest modules nest-oban itself provides; a worker process brings its own Oban instead. */
const OBAN_MODULES = new Set(['ObanModule', 'ObanCoreModule', 'ObanRemoteModule']);

export function moduleClass(ref: ModuleRef): Type {
  return (isDynamic(ref) ? ref.module : ref) as Type;
}

export function isModule(value: unknown): value is ModuleRef {
  if (typeof value === 'function') return Reflect.hasMetadata(IMPORTS, value) || Reflect.hasMetadata(PROVIDERS, value);
  return isDynamic(value);
}

function isDynamic(value: unknown): value is DynamicModule {
  return typeof value === 'object' && value !== null && typeof (value as DynamicModule).module === 'function';
}

function metadata(ref: ModuleRef, key: string): any[] {
  const fromClass = Reflect.getMetadata(key, moduleClass(ref)) ?? [];
  const fromDynamic = isDynamic(ref) ? ((ref as any)[key] ?? []) : [];
  return [...fromClass, ...fromDynamic];
}

function isGlobal(ref: ModuleRef): boolean {
  return (isDynamic(ref) && ref.global === true) || Reflect.getMetadata(GLOBAL, moduleClass(ref)) === true;
}

/**
 * Is ObanModule.forRoot() among the imports of this module? Marks the app's
 * root module. (In a pool process forRoot() returns ObanRemoteModule.)
 */
export function importsOban(ref: ModuleRef): boolean {
  return metadata(ref, IMPORTS).some((i) => isDynamic(i) && OBAN_MODULES.has(i.module.name));
}

/** Every module reachable from `root` through `imports` (forwardRef and async dynamic modules resolved). */
export async function walk(root: ModuleRef): Promise<ModuleRef[]> {
  const seen = new Set<unknown>();
  const found: ModuleRef[] = [];
  const visit = async (entry: unknown): Promise<void> => {
    let ref = entry;
    if (ref && typeof ref === 'object' && 'forwardRef' in ref)
      ref = (ref as { forwardRef: () => unknown }).forwardRef();
    if (ref instanceof Promise) ref = await ref;
    if (!isModule(ref) || seen.has(ref)) return;
    seen.add(ref);
    found.push(ref);
    for (const child of metadata(ref, IMPORTS)) await visit(child);
  };
  await visit(root);
  return found;
}

/** The class of the `@Worker` named `name` among this module's providers. */
export function workerClassIn(ref: ModuleRef, name: string): Type | undefined {
  for (const provider of metadata(ref, PROVIDERS)) {
    const cls = typeof provider === 'function' ? provider : provider?.useClass;
    if (getWorkerMetadata(cls)?.name === name) return cls;
  }
  return undefined;
}

/** Global modules of the graph other than nest-oban's own, to boot beside the host modules. */
export function globalModules(modules: ModuleRef[]): ModuleRef[] {
  return modules.filter((m) => isGlobal(m) && !OBAN_MODULES.has(moduleClass(m).name));
}
