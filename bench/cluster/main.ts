/**
 * Cluster measurements with the default settings (heartbeat 1 s, nodeTtl 10 s,
 * leaderTtl 5 s):
 *
 *   npm run bench:cluster                                  # 3 rounds, 10 s idle
 *   npm run bench:cluster -- --rounds=1 --idle-seconds=2   # a tiny run
 *
 * 1. Failover (failover.ts): 3 node processes run long jobs; one is killed
 *    with SIGKILL. Times from the kill to a new leader (by the machine clock)
 *    and to the rescue of the dead node's jobs (no row of it left
 *    `executing`), once killing the leader and once a follower, per round.
 * 2. Heartbeat cost (heartbeat.ts): 3 idle in-process nodes for
 *    --idle-seconds; statements each sends, per node per second.
 *
 * BENCH_DATABASE_URL picks the database (default: nest_oban_bench on 127.0.0.1, created when missing).
 */
import { BENCH_DATABASE_URL, ensureDatabase } from '../common/database';
import { Flags } from '../common/flags';
import { ProgressBar } from '../common/progress';
import { median } from '../common/stats';
import { renderText } from '../common/table';
import { runMain } from '../common/task';
import { type Failover, failover } from './failover';
import { type HeartbeatCost, heartbeatCost } from './heartbeat';

runMain(async () => {
  const flags = new Flags(process.argv.slice(2), ['rounds', 'idle-seconds'], 'bench/cluster/main.ts');
  const rounds = flags.int('rounds', 3);
  const idleSeconds = flags.int('idle-seconds', 10);
  const url = BENCH_DATABASE_URL;
  await ensureDatabase(url);
  const bar = new ProgressBar(rounds * 2 + 1);
  const leaderKills: Failover[] = [];
  const followerKills: Failover[] = [];
  for (let round = 1; round <= rounds; round++) {
    bar.step(`kill -9 of the leader (round ${round}/${rounds})`);
    leaderKills.push(await failover(url, true));
    bar.step(`kill -9 of a follower (round ${round}/${rounds})`);
    followerKills.push(await failover(url, false));
  }
  bar.step(`3 idle nodes for ${idleSeconds} s`);
  const cost = await heartbeatCost(url, idleSeconds);
  bar.finish();

  const failoverTable = renderText(
    {
      header: ['kill -9 of', 'time to', 'min', 'median', 'max'],
      rows: [
        ['the leader', 'a new leader', ...spread(leaderKills.map((r) => r.leader))],
        ['the leader', 'its jobs rescued', ...spread(leaderKills.map((r) => r.rescue))],
        ['a follower', 'its jobs rescued', ...spread(followerKills.map((r) => r.rescue))],
      ],
    },
    2,
  );
  process.stdout.write(
    `\nnest-oban cluster bench: ${rounds} round(s), default settings\n\n${failoverTable}\n\n` +
      `statements per second, 3 idle nodes running one queue (${cost.seconds.toFixed(1)} s):\n\n${statementsTable(cost)}\n`,
  );
});

/** min, median, max of ms figures, in seconds. */
function spread(ms: number[]): string[] {
  const seconds = (value: number) => `${(value / 1000).toFixed(2)} s`;
  return [Math.min(...ms), median(ms), Math.max(...ms)].map(seconds);
}

function statementsTable({ seconds, statements, roles }: HeartbeatCost): string {
  const names = [...new Set(statements.flatMap((counts) => [...counts.keys()]))].sort();
  const perSecond = (n: number) => (n / seconds).toFixed(2);
  return renderText({
    header: ['statement', ...roles],
    rows: [
      ...names.map((name) => [name, ...statements.map((counts) => perSecond(counts.get(name) ?? 0))]),
      ['total', ...statements.map((counts) => perSecond([...counts.values()].reduce((a, b) => a + b, 0)))],
    ],
  });
}
