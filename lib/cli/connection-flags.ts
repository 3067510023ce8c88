import { type FlagSpec, type ParsedFlags, UsageError, stringFlag } from './args';

/** The flags every database command shares. */
export const CONNECTION_FLAGS: FlagSpec[] = [
  { name: 'database-url', value: 'url', help: 'postgres:// URL (default: env DATABASE_URL)' },
  { name: 'prefix', value: 'schema', help: "schema holding nest-oban's tables (default: public)" },
];

export interface ConnectionFlags {
  url: string;
  prefix: string;
}

export function connectionFlags(command: string, flags: ParsedFlags, env: NodeJS.ProcessEnv): ConnectionFlags {
  const url = stringFlag(flags, 'database-url') ?? env.DATABASE_URL;
  if (url === undefined || url === '') {
    throw new UsageError(`nest-oban ${command}: no database: pass --database-url postgres://... or set DATABASE_URL`);
  }
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new UsageError(`nest-oban ${command}: --database-url must be a postgres:// URL, got '${redact(url)}'`);
  }
  const prefix = stringFlag(flags, 'prefix') ?? 'public';
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,40}$/.test(prefix)) {
    throw new UsageError(
      `nest-oban ${command}: --prefix must be a schema name of letters, digits and '_', got '${prefix}'`,
    );
  }
  return { url, prefix };
}

/** A URL for an error message: never its password. */
function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
