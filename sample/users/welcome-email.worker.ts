import { Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { type Job, type ObanWorker, Worker } from '../../lib';
import { User } from './user.entity';

/**
 * "Sends" the welcome email: logs it and marks the user welcomed. Runs in the
 * main process (it does I/O, not CPU work). Enqueued by UsersService in the
 * transaction that creates the user, so it exists exactly when the user does.
 */
@Worker({ queue: 'mail', maxAttempts: 5 })
export class WelcomeEmailWorker implements ObanWorker<{ userId: number }, { sentTo: string }> {
  private readonly logger = new Logger('WelcomeEmail');

  constructor(@InjectRepository(User) private readonly users: Repository<User>) {}

  async perform(job: Job<{ userId: number }>) {
    const user = await this.users.findOneByOrFail({ id: job.args.userId });
    this.logger.log(`sending the welcome email to ${user.email} (job ${job.id}, attempt ${job.attempt})`);
    await this.users.update(user.id, { welcomedAt: new Date() });
    return { sentTo: user.email };
  }
}
