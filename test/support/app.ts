import 'reflect-metadata';
import { type DynamicModule, type INestApplicationContext, Module, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ObanModule, type ObanModuleOptions } from '../../lib';

export interface TestAppOptions {
  oban: ObanModuleOptions;
  imports?: Array<Type | DynamicModule>;
  providers?: any[];
  /** Nest log levels; boot failures a test expects are quieter with `[]`. */
  logger?: false | Array<'error' | 'warn' | 'log'>;
}

/** Boots a Nest application context with ObanModule.forRoot(options) and the given modules. */
export async function createApp(options: TestAppOptions): Promise<INestApplicationContext> {
  @Module({
    imports: [ObanModule.forRoot({ stageInterval: 100, ...options.oban }), ...(options.imports ?? [])],
    providers: options.providers ?? [],
  })
  class TestRootModule {}
  return NestFactory.createApplicationContext(TestRootModule, {
    logger: options.logger ?? ['error', 'warn'],
    abortOnError: false,
  });
}
