import { Module } from '@nestjs/common';
import { Pool } from 'pg';
import { Worker, type Job } from '../../lib';

const settings = JSON.parse(process.env.OBAN_TEST_NODE ?? '{}');

/** A `cpu: true` worker for cluster tests: records the process running it, then sleeps (long on attempt 1). */
@Worker({ queue: 'cpu', cpu: true })
export class CpuRecordWorker {
  private readonly pool = new Pool({ connectionString: settings.databaseUrl, max: 1 });
  async perform(job: Job<{ firstMs: number }>) {
    await this.pool.query(
      `INSERT INTO "${settings.prefix}".runs (job_id, attempt, node, started_ms, pid) VALUES ($1, $2, $3, $4, $5)`,
      [job.id, job.attempt, job.attemptedBy[0], Date.now(), process.pid],
    );
    await new Promise((r) => setTimeout(r, job.attempt === 1 ? job.args.firstMs : 10));
    return { pid: process.pid };
  }
}

@Module({ providers: [CpuRecordWorker] })
export class CpuWorkerModule {}
