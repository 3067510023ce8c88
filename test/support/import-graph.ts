import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

/** A file's relative imports, as paths relative to the scanned root (posix separators). */
export type ImportGraph = Map<string, string[]>;

/** One layer: the files it holds, matched on their path relative to lib/. */
export interface Layer {
  name: string;
  holds: (file: string) => boolean;
}

/** Reads every .ts file below `root` and the relative imports of each (type-only ones too). */
export function readImportGraph(root: string): ImportGraph {
  const graph: ImportGraph = new Map();
  for (const file of listTs(root)) {
    const text = readFileSync(path.join(root, file), 'utf8');
    const specifiers = ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
    const targets = specifiers
      .filter((s) => s.startsWith('.'))
      .map((s) => resolve(root, path.posix.dirname(file), s))
      .filter((t): t is string => t !== undefined);
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** The layer index of a file, or -1 when no layer holds it. */
export function layerOf(file: string, layers: Layer[]): number {
  return layers.findIndex((layer) => layer.holds(file));
}

/** Imports that point up a layer, or into files no layer holds; each as "from -> to (why)". */
export function upwardImports(graph: ImportGraph, layers: Layer[]): string[] {
  const problems: string[] = [];
  for (const [from, targets] of graph) {
    const own = layerOf(from, layers);
    if (own < 0) problems.push(`${from}: in no layer`);
    for (const to of targets) {
      const theirs = layerOf(to, layers);
      if (theirs > own) problems.push(`${from} (${layers[own]?.name}) -> ${to} (${layers[theirs]?.name}): runs up`);
    }
  }
  return problems;
}

/** Every import cycle, each as the files on it. */
export function cycles(graph: ImportGraph): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return found;
}

function listTs(root: string, dir = ''): string[] {
  const files: string[] = [];
  for (const name of readdirSync(path.join(root, dir))) {
    const rel = dir ? `${dir}/${name}` : name;
    if (statSync(path.join(root, rel)).isDirectory()) files.push(...listTs(root, rel));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) files.push(rel);
  }
  return files;
}

/** The file a relative specifier names (x.ts or x/index.ts), relative to root; undefined outside root. */
function resolve(root: string, fromDir: string, specifier: string): string | undefined {
  const base = path.posix.normalize(path.posix.join(fromDir, specifier));
  for (const candidate of [`${base}.ts`, `${base}/index.ts`, base]) {
    if (existsSync(path.join(root, candidate)) && statSync(path.join(root, candidate)).isFile()) {
      return candidate;
    }
  }
  return base.startsWith('..') ? base : undefined;
}
