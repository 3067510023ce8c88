import { OBAN_SCHEMA_VERSION, OBAN_SCHEMA_VERSIONS, applyVersionUp } from '../../migrations';
import { migrate } from '../db/migrate';
import { PgDatabase } from '../db/pg-database';
import { UsageError, integerFlag } from './args';
import type { Command } from './command';
import { CONNECTION_FLAGS, connectionFlags } from './connection-flags';

/** The SQL of versions after `from`, each in its own transaction, as `migrate: true` runs them. */
export async function migrationSql(prefix: string, from: number): Promise<string> {
  const lines = [`-- nest-oban schema '${prefix}': versions ${from + 1} to ${OBAN_SCHEMA_VERSION}`];
  for (const version of OBAN_SCHEMA_VERSIONS.filter((v) => v.version > from)) {
    const statements: string[] = [];
    await applyVersionUp({ query: async (sql) => statements.push(sql) }, version, prefix);
    lines.push('', `-- version ${version.version}`, 'BEGIN;', ...statements.map((s) => `${s.trim()};`), 'COMMIT;');
  }
  return lines.join('\n') + '\n';
}

export const migrateCommand: Command = {
  name: 'migrate',
  usage: 'nest-oban migrate [--print [--from <version>]] [--database-url <url>] [--prefix <schema>]',
  summary:
    "Brings nest-oban's schema up to date (under an advisory lock, each version in its own transaction), " +
    'as `migrate: true` does at boot.\nWith --print, writes the SQL instead and connects to nothing: for DDL that goes through review.',
  flags: [
    ...CONNECTION_FLAGS,
    { name: 'print', switch: true, help: 'print the SQL instead of running it (no database needed)' },
    {
      name: 'from',
      value: 'version',
      help: `with --print: only versions after this one (default 0; current ${OBAN_SCHEMA_VERSION})`,
    },
  ],
  async run(flags, context) {
    if (flags.print) {
      const prefix = connectionFlags('migrate', { ...flags, 'database-url': 'postgres://unused' }, context.env).prefix;
      const from = integerFlag('migrate', flags, 'from', 0) ?? 0;
      context.out(await migrationSql(prefix, Math.min(from, OBAN_SCHEMA_VERSION)));
      return 0;
    }
    if (flags.from !== undefined) throw new UsageError('nest-oban migrate: --from is only used with --print');
    const { url, prefix } = connectionFlags('migrate', flags, context.env);
    const db = PgDatabase.fromUrl(url, 2);
    try {
      const { from, to } = await migrate(db, prefix);
      context.out(
        from === to
          ? `schema '${prefix}' on ${db.description} is at version ${to}: nothing to do\n`
          : `schema '${prefix}' on ${db.description}: migrated from version ${from} to ${to}\n`,
      );
      return 0;
    } finally {
      await db.close();
    }
  },
};
