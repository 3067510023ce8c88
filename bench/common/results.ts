import * as fs from 'node:fs';
import * as path from 'node:path';

/** The repository's root: the nearest folder up with a package.json (from bench/ or from .bench-build/bench/ alike). */
function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('bench: no package.json above bench/');
    dir = parent;
  }
  return dir;
}

/**
 * Writes a benchmark's report to bench/results/ (git-ignored):
 * `<name>-<stamp>.md` with `<name>-latest.md` beside it, and the raw figures
 * as `<name>-<stamp>.json`. Returns the path written, without extension.
 */
export function writeResults(name: string, startedAt: Date, markdown: string, json: unknown): string {
  const dir = path.join(repoRoot(), 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const base = `${name}-${startedAt.toISOString().replace(/[:.]/g, '-')}`;
  fs.writeFileSync(path.join(dir, `${base}.md`), markdown);
  fs.writeFileSync(path.join(dir, `${name}-latest.md`), markdown);
  fs.writeFileSync(path.join(dir, `${base}.json`), JSON.stringify(json, null, 2));
  return path.join('bench', 'results', base);
}
