import { Logger, type LoggerService } from '@nestjs/common';
import type { JobStopEvent } from './events';
import type { ObanEvents } from './oban-events';

/** The least severe level of nest-oban's lines that is written; `'silent'` writes none. */
export type ObanLogLevel = 'verbose' | 'debug' | 'log' | 'warn' | 'error' | 'fatal' | 'silent';

export const OBAN_LOG_LEVELS: readonly ObanLogLevel[] = ['verbose', 'debug', 'log', 'warn', 'error', 'fatal', 'silent'];

type Method = 'verbose' | 'debug' | 'log' | 'warn' | 'error' | 'fatal';

/**
 * nest-oban's own logger (context `Oban`): Nest's `Logger` unless the app
 * gives a `LoggerService`, writing only lines at `logLevel` or above. Nest's
 * own log levels still apply to the default logger.
 */
export class ObanLogger extends Logger {
  private readonly minimum: number;

  constructor(
    private readonly target: LoggerService | undefined,
    level: ObanLogLevel = 'verbose',
  ) {
    super('Oban');
    this.minimum = OBAN_LOG_LEVELS.indexOf(level);
  }

  /** Whether a line at `level` is written. */
  enabled(level: Method): boolean {
    return OBAN_LOG_LEVELS.indexOf(level) >= this.minimum;
  }

  /** Every level's method comes here (set on the prototype below). */
  protected write(level: Method, message: unknown, rest: unknown[]): void {
    if (!this.enabled(level)) return;
    const target = this.target;
    if (!target) {
      super[level](message, ...rest);
      return;
    }
    // A LoggerService may lack debug, verbose or fatal: those lines go to its `log` (fatal to `error`).
    const method = target[level] ?? (level === 'fatal' ? target.error : target.log);
    method.call(target, message, ...(rest.length > 0 ? rest : ['Oban']));
  }
}

const METHODS: readonly Method[] = ['verbose', 'debug', 'log', 'warn', 'error', 'fatal'];
for (const level of METHODS) {
  Object.defineProperty(ObanLogger.prototype, level, {
    value: function (this: ObanLogger, message: unknown, ...rest: unknown[]) {
      this.write(level, message, rest);
    },
    writable: true,
    configurable: true,
  });
}

/**
 * `logJobs: true`: one JSON line per attempt's end, at `log` (completed,
 * snoozed, cancelled, released), `warn` (failure) or `error` (discard).
 */
export function logJobOutcomes(events: ObanEvents, logger: Logger): void {
  events.on('job.stop', (event) => {
    const line = JSON.stringify(jobLine(event));
    if (event.state === 'failure') logger.warn(line);
    else if (event.state === 'discard') logger.error(line);
    else logger.log(line);
  });
}

function jobLine(event: JobStopEvent): Record<string, unknown> {
  const line: Record<string, unknown> = {
    event: 'job.stop',
    id: event.job.id,
    worker: event.worker,
    queue: event.queue,
    attempt: event.attempt,
    state: event.state,
    duration_ms: Math.round(event.duration * 1000) / 1000,
    queue_time_ms: event.queueTime,
    node: event.node,
  };
  if (event.cpu) line.cpu = true;
  if (event.error) line.error = event.error.message;
  if (event.snooze !== undefined) line.snooze = event.snooze;
  return line;
}
