import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { type ImportGraph, type Layer, cycles, readImportGraph, upwardImports } from './support/import-graph';

const inFolder = (folder: string) => (file: string) => file.startsWith(`${folder}/`);
const oneOf =
  (...files: string[]) =>
  (file: string) =>
    files.includes(file);

/**
 * lib/'s layers, lowest first, as lib/ARCHITECTURE.md draws them: a file may
 * import its own layer's files and lower layers' only.
 */
const LAYERS: Layer[] = [
  {
    name: 'base',
    holds: (f) => oneOf('errors.ts', 'json.ts', 'job.ts', 'snooze-cancel.ts', 'signals.ts')(f) || inFolder('util')(f),
  },
  { name: 'events', holds: inFolder('events') },
  { name: 'db', holds: (f) => inFolder('db')(f) || f.startsWith('../migrations') },
  { name: 'store', holds: inFolder('store') },
  { name: 'validation', holds: inFolder('validation') },
  { name: 'worker', holds: inFolder('worker') },
  { name: 'config', holds: inFolder('config') },
  { name: 'notifier', holds: inFolder('notifier') },
  { name: 'queue', holds: inFolder('queue') },
  { name: 'pool', holds: (f) => inFolder('pool')(f) && !inFolder('pool/child')(f) },
  { name: 'plugins', holds: inFolder('plugins') },
  // Workflows, relay and batches: above the queue machinery, used by the node's Oban service.
  { name: 'compose', holds: inFolder('compose') },
  {
    name: 'node',
    holds: oneOf(
      'oban.tokens.ts',
      'node-view.ts',
      'oban.service.ts',
      'remote-oban.ts',
      'oban.runtime.ts',
      'oban-core.module.ts',
      'oban.module.ts',
      'shutdown-order.ts',
      'index.ts',
    ),
  },
  // nest-oban/health, beside testing (neither imports the other); the main entry loads without @nestjs/terminus.
  { name: 'health', holds: inFolder('health') },
  // nest-oban/tracing, beside health; the main entry loads without @opentelemetry/api.
  { name: 'tracing', holds: inFolder('tracing') },
  // nest-oban/metrics, beside health and testing; the main entry loads without prom-client.
  { name: 'metrics', holds: inFolder('metrics') },
  // nest-oban/dashboard, beside health and metrics: reads the node through NodeView and acts through Oban.
  { name: 'dashboard', holds: inFolder('dashboard') },
  { name: 'testing', holds: inFolder('testing') },
  // The pool process's own program: found by path, imported by nothing of the main process.
  { name: 'pool process', holds: inFolder('pool/child') },
  // The `nest-oban` command (package.json "bin"): on top of everything, imported by nothing.
  { name: 'cli', holds: inFolder('cli') },
];

describe('architecture of lib/', () => {
  const graph = readImportGraph(path.join(__dirname, '..', 'lib'));

  it('every import points down a layer or stays in its own', () => {
    assert.ok(graph.size > 50, `read ${graph.size} files`);
    assert.deepEqual(upwardImports(graph, LAYERS), []);
  });

  it('no import cycle', () => {
    assert.deepEqual(cycles(graph), []);
  });

  it('the main process never imports the pool process program', () => {
    const intoChild = [...graph].flatMap(([from, to]) =>
      from.startsWith('pool/child/') ? [] : to.filter((t) => t.startsWith('pool/child/')).map((t) => `${from} -> ${t}`),
    );
    assert.deepEqual(intoChild, []);
  });

  it('the checks catch an import that runs up and a cycle', () => {
    const bad: ImportGraph = new Map([
      ['errors.ts', ['oban.service.ts']],
      ['oban.service.ts', ['store/a.ts']],
      ['store/a.ts', ['store/b.ts']],
      ['store/b.ts', ['store/a.ts']],
    ]);
    assert.deepEqual(upwardImports(bad, LAYERS), ['errors.ts (base) -> oban.service.ts (node): runs up']);
    assert.deepEqual(cycles(bad), [['store/a.ts', 'store/b.ts', 'store/a.ts']]);
    assert.deepEqual(upwardImports(new Map([['stray.ts', []]]), LAYERS), ['stray.ts: in no layer']);
  });
});
