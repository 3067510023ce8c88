import { type DynamicModule, Global, Module } from '@nestjs/common';
import { Oban } from '../../oban.service';
import { ChildOban } from './child-oban';
import { rpc } from './rpc';

/**
 * What ObanModule.forRoot() becomes inside a worker process: only an `Oban`
 * that forwards to the main process. No connection, no queues.
 */
@Global()
@Module({})
export class ObanChildModule {
  static register(): DynamicModule {
    return {
      module: ObanChildModule,
      global: true,
      providers: [{ provide: Oban, useFactory: () => new ChildOban(rpc) }],
      exports: [Oban],
    };
  }
}
