import type { QueryConfig } from 'pg';

/* Small helpers over node-postgres's query API. */

/** pg's per-query `query_timeout` (ms until the client gives up on the answer), which its typings leave out. */
export function withReadTimeout(config: QueryConfig, ms: number): QueryConfig {
  return { ...config, query_timeout: ms } as QueryConfig;
}

/** pg's own error when `query_timeout` passed without an answer. */
export function isReadTimeout(error: unknown): boolean {
  return (error as Error)?.message === 'Query read timeout';
}

export function quoteIdent(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

/** The statement unprepared: pg prepares no server-side statement for an empty name (a transaction pooler). */
export function unnamed<S extends { name: string }>(statement: S): S {
  return { ...statement, name: '' };
}
