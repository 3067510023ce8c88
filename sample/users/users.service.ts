import { ConflictException, Injectable } from '@nestjs/common';
import { DataSource, QueryFailedError } from 'typeorm';
import { type Job, Oban } from '../../lib';
import { User } from './user.entity';
import { WelcomeEmailWorker } from './welcome-email.worker';

@Injectable()
export class UsersService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly oban: Oban,
  ) {}

  /**
   * Creates the user and enqueues the welcome email in one transaction: if
   * the insert of the user fails (say, the email is taken), no email job
   * exists either; if it commits, the job is there and runs.
   */
  async create(email: string): Promise<{ user: User; job: Job }> {
    try {
      return await this.dataSource.transaction(async (manager) => {
        const user = await manager.save(User, manager.create(User, { email }));
        const job = await this.oban.insert(WelcomeEmailWorker, { userId: user.id }, { manager });
        return { user, job };
      });
    } catch (error) {
      if (error instanceof QueryFailedError && (error.driverError as { code?: string })?.code === '23505') {
        throw new ConflictException(`a user with email ${email} exists already`);
      }
      throw error;
    }
  }

  find(id: number): Promise<User | null> {
    return this.dataSource.getRepository(User).findOneBy({ id });
  }
}
