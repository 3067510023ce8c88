import { createHash } from 'node:crypto';
import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';

/**
 * The CPU work behind HashWorker: N rounds of SHA-256, each over the previous
 * digest (Oban Pro's benchmark job). Its "model", a table of salts, is built
 * once per process in onModuleInit: in the main process, and once in each
 * worker process of the pool, never once per job.
 */
@Injectable()
export class DigestService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('DigestService');
  private salts: Buffer[] = [];

  onModuleInit(): void {
    const started = Date.now();
    this.salts = Array.from({ length: 256 }, (_, i) => createHash('sha256').update(`salt-${i}`).digest());
    this.logger.log(`model loaded in pid ${process.pid}: ${this.salts.length} salts in ${Date.now() - started} ms`);
  }

  onModuleDestroy(): void {
    this.logger.log(`model unloaded in pid ${process.pid}`);
  }

  /** Hex digest after `rounds` rounds, starting from the salt picked by `seed`. */
  run(rounds: number, seed = 0): string {
    if (this.salts.length === 0) throw new Error('DigestService used before onModuleInit loaded its model');
    let digest = this.salts[seed & 255];
    for (let i = 0; i < rounds; i++) digest = createHash('sha256').update(digest).digest();
    return digest.toString('hex');
  }
}
