import type { CronConfig } from '../config/cluster-config';
import { ObanConfigError } from '../errors';
import type { ObanHooks } from '../events/hooks';
import type { InsertRow } from '../store/job-store';
import type { CronSchedule } from '../util/cron-expression';
import { Retry } from '../util/retry';
import { validateJob } from '../validation/job-options';
import type { WorkerRegistry } from '../worker/worker-registry';
import type { Plugin, PluginContext } from './plugin';

/** How far back a node that becomes leader looks for slots missed while no one led. */
export const CRON_CATCH_UP_MS = 5 * 60_000;
/** Longest wait between two looks at the crontab (a failed insert is retried then). */
const MAX_WAIT_MS = 60_000;

interface ResolvedCron {
  name: string;
  schedule: CronSchedule;
  row: InsertRow;
  /** Slots up to this clock time are done (inserted here or taken by another leader). */
  doneUntil: number;
}

/**
 * Validates every crontab entry against the workers this app knows, so a bad
 * entry fails boot: the row each slot inserts is built (and checked) once.
 */
export function resolveCrontab(entries: CronConfig[], registry: WorkerRegistry): ResolvedCron[] {
  const byName = new Map<string, ResolvedCron>();
  for (const entry of entries) {
    const where = `ObanModule: crontab[${entry.index}] ('${entry.schedule.expression}')`;
    const worker = registry.resolve(entry.worker as never, where);
    const opts = { ...entry.opts };
    const row = validateJob(worker, entry.args, opts, where);
    const name =
      entry.name ??
      `${worker.name} ${entry.schedule.expression}` +
        (Object.keys(entry.args).length > 0 ? ` ${JSON.stringify(entry.args)}` : '');
    if (byName.has(name)) {
      throw new ObanConfigError(
        `${where}: another crontab entry has the same name '${name}'; give one of them a distinct \`name\``,
      );
    }
    byName.set(name, { name, schedule: entry.schedule, row, doneUntil: 0 });
  }
  return [...byName.values()];
}

/**
 * Leader only: inserts each crontab entry's job once per slot. The database
 * decides "once" (`insertCronJob` claims the slot in `oban_crons` in the same
 * statement as the insert), so several nodes, or a new leader redoing the
 * last minutes, never insert a slot twice. A node that becomes leader catches
 * up on slots of the last CRON_CATCH_UP_MS that nobody inserted.
 */
export class CronPlugin implements Plugin {
  readonly name = 'cron';
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private retry!: Retry;
  private ctx!: PluginContext;

  constructor(
    private readonly entries: ResolvedCron[],
    /** The insert hook (tracing) wraps each slot's insert when one is registered. */
    private readonly hooks?: ObanHooks,
  ) {}

  async start(ctx: PluginContext): Promise<void> {
    this.ctx = ctx;
    this.retry = new Retry('inserting cron jobs', ctx.logger);
    if (this.entries.length === 0) return;
    // An entry seen for the first time counts as done up to now: it never fires for the past.
    await ctx.cluster.registerCrons(
      this.entries.map((e) => e.name),
      new Date(ctx.clock.now()),
    );
    ctx.peer.onElected(() => {
      for (const entry of this.entries) entry.doneUntil = 0;
      this.wake(0);
    });
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Schedules the next look: after `delay` clock ms, or at the next slot of any entry. */
  private wake(delay?: number): void {
    if (this.stopped) return;
    const { clock } = this.ctx;
    const now = clock.now();
    if (delay === undefined) {
      const next = Math.min(...this.entries.map((e) => e.schedule.next(now) ?? Infinity), now + MAX_WAIT_MS);
      delay = next - now;
    }
    clearTimeout(this.timer);
    // A few real ms late, so the slot is due by the clock when the timer fires.
    this.timer = setTimeout(() => this.tick(), Math.max(0, delay / clock.rate) + 5);
  }

  private tick(): void {
    if (this.running) return;
    this.running = this.insertDue()
      .then(
        () => {
          this.retry.succeeded();
          return undefined;
        },
        // The retry delay is real time; wake() takes clock time.
        (error) => this.retry.failed(error) * this.ctx.clock.rate,
      )
      .then((retryIn) => {
        this.running = undefined;
        this.wake(retryIn === undefined ? undefined : Math.min(MAX_WAIT_MS, retryIn));
      });
  }

  private async insertDue(): Promise<void> {
    const { peer, cluster, clock, logger, events } = this.ctx;
    if (!peer.isLeader) return;
    const now = clock.now();
    for (const entry of this.entries) {
      const after = Math.max(entry.doneUntil, now - CRON_CATCH_UP_MS);
      for (const slot of entry.schedule.slotsBetween(after, now)) {
        if (!peer.isLeader || this.stopped) return;
        const at = new Date(slot);
        const row = { ...entry.row, meta: { ...entry.row.meta, cron: entry.name, cron_slot: at.toISOString() } };
        const insert = () => cluster.insertCronJob(entry.name, at, peer.node, row);
        const hook = this.hooks?.insert;
        const id = await (hook
          ? hook({ operation: 'cron', rows: [row] }, insert, (id) => (id === null ? [] : [id]))
          : insert());
        const missed = slot < now - 60_000;
        if (id !== null && missed) {
          logger.log(`cron '${entry.name}': inserted missed slot ${at.toISOString()} (job ${id})`);
        }
        if (id !== null && events.has('cron.insert')) {
          events.emit('cron.insert', { node: peer.node, name: entry.name, slot: at, jobId: id, missed });
        }
        entry.doneUntil = slot;
      }
      entry.doneUntil = Math.max(entry.doneUntil, now);
    }
  }
}
