import { ObanError } from '../errors';
import type { Database, ListenConnection } from './database';

/**
 * The Database of `testing: 'inline'` when no `connection` is given: inserts
 * run in memory, so nothing needs one, and any call that does gets told why
 * there is none instead of a connection error.
 */
export class NoDatabase implements Database {
  readonly kind = 'none';
  readonly description = "no database (testing: 'inline' without a connection)";

  async query(): Promise<never> {
    throw this.refusal();
  }

  async session(): Promise<never> {
    throw this.refusal();
  }

  async connectListener(): Promise<ListenConnection> {
    throw this.refusal();
  }

  async close(): Promise<void> {}

  private refusal(): ObanError {
    return new ObanError(
      "nest-oban: testing: 'inline' without a `connection` opens no database, and this call needs one " +
        '(inline inserts never do). Pass `connection` to ObanModule.forRoot(), or use testing: ' +
        "'manual' to store jobs and drain them",
    );
  }
}
