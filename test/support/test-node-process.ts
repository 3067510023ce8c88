import type { Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { ObanConfig } from '../../lib/config/config';
import { ObanRuntime } from '../../lib/oban.runtime';
import { OBAN_CONFIG } from '../../lib/oban.tokens';

/**
 * Runs this process as a test node (the body of a forked node fixture): boots
 * the module `build` returns, tells the parent over IPC when it is ready and
 * each leadership change, closes on `{ cmd: 'stop' }`, and exits when the
 * parent goes away, so a failed test never leaves a node behind.
 */
export function runTestNode(build: () => Type | Promise<Type>): void {
  serve(build).catch((error) => {
    console.error('test node failed to start:', error);
    process.exit(1);
  });
}

async function serve(build: () => Type | Promise<Type>): Promise<void> {
  const app = await NestFactory.createApplicationContext(await build(), { logger: ['error', 'warn'] });
  const runtime = app.get(ObanRuntime);
  const send = (message: object) => process.connected && process.send?.(message);
  send({ type: 'ready', pid: process.pid, node: app.get<ObanConfig>(OBAN_CONFIG).node });
  runtime.onLeadership((change) => send({ type: 'leader', ...change }));
  process.on('message', async (message: { cmd: string }) => {
    if (message.cmd === 'stop') {
      await app.close();
      send({ type: 'stopped' });
      process.exit(0);
    }
  });
  process.on('disconnect', () => process.exit(1));
}
