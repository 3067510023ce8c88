import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

// In a process of its own: the young generation's size is the whole process's.
const SCRIPT = `
  const { getHeapSpaceStatistics } = require('node:v8');
  const { resetYoungGeneration } = require('./lib/pool/child/young-generation');
  const young = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
  const kept = [];
  for (let i = 0; i < 1e6; i++) kept.push({ i, s: 'x' + i }); // objects that survive, as a boot's do
  const grown = young();
  kept.length = 0;
  resetYoungGeneration();
  process.stdout.write(JSON.stringify({ grown, reset: young() }));
`;

describe("a worker process's young generation", () => {
  it('is given back its initial size after the boot grew it, without a warning on stderr', () => {
    const run = spawnSync(process.execPath, ['-r', 'ts-node/register', '-e', SCRIPT], {
      cwd: `${__dirname}/..`,
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' },
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
    const { grown, reset } = JSON.parse(run.stdout) as { grown: number; reset: number };
    const mb = (bytes: number) => `${bytes / 2 ** 20} MB`;
    assert.ok(grown >= 8 * 2 ** 20, `the surviving objects grew it (${mb(grown)})`);
    assert.ok(reset <= 2 * 2 ** 20, `reset to ${mb(reset)}`);
    assert.equal(run.stderr, '', 'no ExperimentalWarning of v8.queryObjects');
  });
});
