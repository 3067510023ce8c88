import { Module } from '@nestjs/common';
import { DigestService } from './digest.service';
import { HashWorker } from './hash.worker';

/**
 * Self-contained on purpose: a worker process boots this module alone (not
 * the HTTP app), so it needs no database and no controllers.
 */
@Module({
  providers: [DigestService, HashWorker],
  exports: [DigestService],
})
export class ReportsModule {}
