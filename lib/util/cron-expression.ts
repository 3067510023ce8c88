import { Cron } from 'croner';
import { ObanConfigError } from '../errors';

const NICKNAMES = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];

/** A parsed cron expression in a timezone: the instants (slots) it names. */
export interface CronSchedule {
  readonly expression: string;
  readonly timezone: string;
  /** Slots `s` with `after < s <= until` (epoch ms), oldest first. */
  slotsBetween(after: number, until: number): number[];
  /** The first slot after `after` (epoch ms), or null if there is none. */
  next(after: number): number | null;
}

/**
 * Parses a standard 5-field expression or a nickname with croner. Throws an
 * ObanConfigError naming the expression (and `where`) when it is invalid, uses
 * seconds, or never matches (e.g. `0 0 31 2 *`).
 */
export function parseCron(expression: unknown, timezone: string, where: string): CronSchedule {
  if (typeof expression !== 'string' || expression.trim() === '') {
    throw new ObanConfigError(
      `${where}: cron must be an expression like '*/5 * * * *' or '@daily', got ${String(expression)}`,
    );
  }
  const expr = expression.trim();
  if (expr.startsWith('@') && !NICKNAMES.includes(expr.toLowerCase())) {
    throw new ObanConfigError(
      `${where}: invalid cron expression '${expr}': unknown nickname (known: ${NICKNAMES.join(', ')})`,
    );
  }
  let cron: Cron;
  try {
    // paused: croner only computes times here; nest-oban's leader does the scheduling.
    cron = new Cron(expr, { paused: true, mode: '5-part', timezone });
  } catch (error) {
    throw new ObanConfigError(
      `${where}: invalid cron expression '${expr}': ${(error as Error).message.replace(/^CronPattern: /, '').replace(/\.$/, '')}. ` +
        `Use 5 fields (minute hour day-of-month month day-of-week) or a nickname such as @hourly`,
    );
  }
  if (cron.nextRun(new Date()) === null) {
    throw new ObanConfigError(
      `${where}: cron expression '${expr}' never matches a date; check the day and month fields`,
    );
  }
  return {
    expression: expr,
    timezone,
    next(after) {
      return cron.nextRun(new Date(after))?.getTime() ?? null;
    },
    slotsBetween(after, until) {
      const slots: number[] = [];
      for (let at = this.next(after); at !== null && at <= until; at = this.next(at)) slots.push(at);
      return slots;
    },
  };
}

/** Throws an ObanConfigError naming `where` unless `timezone` is an IANA zone this runtime knows. */
export function checkTimezone(timezone: unknown, where: string): string {
  if (typeof timezone !== 'string' || timezone.trim() === '') {
    throw new ObanConfigError(`${where} must be an IANA timezone name such as 'Europe/Paris', got ${String(timezone)}`);
  }
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw new ObanConfigError(
      `${where}: unknown timezone '${timezone}'; use an IANA name such as 'Etc/UTC' or 'America/New_York'`,
    );
  }
  return timezone;
}
