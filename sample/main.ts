import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';

/** `nest start` (or `npm start`): the HTTP app, which also runs the queues. */
async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule);
  app.enableShutdownHooks(); // on SIGTERM/SIGINT: stop fetching, finish running jobs, close
  const port = Number(process.env.PORT ?? 3000);
  await app.listen(port);
  new Logger('Sample').log(
    `listening on http://localhost:${port}: try curl -X POST localhost:${port}/users -H 'content-type: application/json' -d '{"email":"ada@example.com"}'`,
  );
}

void bootstrap();
