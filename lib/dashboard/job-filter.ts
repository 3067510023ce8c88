import { ObanValidationError } from '../errors';
import { JOB_STATES, type JobState } from '../job';

/** What a job list is narrowed to; every field optional, all given must match. */
export interface JobFilter {
  state?: JobState;
  queue?: string;
  worker?: string;
  /** One tag the job carries. */
  tag?: string;
  /** Text found (case-insensitive) anywhere in the job's args or meta as JSON. */
  text?: string;
}

export const FILTER_FIELDS = ['state', 'queue', 'worker', 'tag', 'text'] as const;

/** The filter of a request's query string or body; empty strings mean "any". Names the field that is wrong. */
export function parseJobFilter(input: unknown, where: string): JobFilter {
  if (input === undefined || input === null) return {};
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new ObanValidationError(`${where}: filter must be an object of ${FILTER_FIELDS.join(', ')}`);
  }
  const filter: JobFilter = {};
  for (const [key, raw] of Object.entries(input as Record<string, unknown>)) {
    if (!(FILTER_FIELDS as readonly string[]).includes(key)) continue; // cursor, limit and the like travel beside it
    if (raw === undefined || raw === null || raw === '') continue;
    if (typeof raw !== 'string') {
      throw new ObanValidationError(`${where}: filter field '${key}' must be a string, got ${typeof raw}`);
    }
    if (raw.length > 200)
      throw new ObanValidationError(`${where}: filter field '${key}' is longer than 200 characters`);
    if (key === 'state' && !JOB_STATES.includes(raw as JobState)) {
      throw new ObanValidationError(
        `${where}: unknown state ${JSON.stringify(raw)} (states: ${JOB_STATES.join(', ')})`,
      );
    }
    (filter as Record<string, string>)[key] = raw;
  }
  return filter;
}

/** A positive whole number from a query string, or undefined when absent. */
export function parseWhole(
  raw: unknown,
  field: string,
  where: string,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  const value = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new ObanValidationError(
      `${where}: ${field} must be a whole number from 1 to ${max}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

/** `text` as an ILIKE pattern matching it anywhere, its own `%`, `_` and `\` taken literally. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
