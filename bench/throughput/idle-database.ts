import { withClient } from '../common/database';
import { sleep } from '../common/wait';

/**
 * Waits (at most `maxMs`) until no autovacuum worker is busy in the bench
 * database: the drains before a latency run leave tens of thousands of dead
 * rows, and a vacuum running beside the latency run would time the vacuum.
 * Every system gets the same wait.
 */
export function waitForIdleDatabase(url: string, maxMs = 60_000): Promise<void> {
  return withClient(url, async (client) => {
    const deadline = Date.now() + maxMs;
    while (Date.now() < deadline) {
      const { rows } = await client.query(
        `SELECT count(*)::int AS busy FROM pg_stat_activity
         WHERE backend_type = 'autovacuum worker' AND datname = current_database()`,
      );
      if (rows[0].busy === 0) return;
      await sleep(250);
    }
  });
}
