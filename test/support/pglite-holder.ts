/**
 * A second process for the PGlite tests: opens an embedded database in the
 * data dir given as argv[2], prints "ready", and holds it until stdin closes.
 */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ObanModule } from '../../lib';

async function main(): Promise<void> {
  @Module({ imports: [ObanModule.forRoot({ pglite: { dataDir: process.argv[2] }, queues: {} })] })
  class HolderModule {}
  const app = await NestFactory.createApplicationContext(HolderModule, { logger: ['error'] });
  process.stdout.write('ready\n');
  process.stdin.resume();
  process.stdin.on('end', () => void app.close().then(() => process.exit(0)));
}

main().catch((error) => {
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
});
