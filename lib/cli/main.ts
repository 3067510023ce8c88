#!/usr/bin/env node
/**
 * The `nest-oban` command (package.json "bin"): `start` runs a worker node
 * of a built module, `migrate` brings the schema up to date or prints its
 * SQL, `queues` and `jobs` show what the database holds. Each has --help.
 */
import { helpText, parseFlags, UsageError } from './args';
import type { CliContext, Command } from './command';
import { jobsCommand, queuesCommand } from './inspect-commands';
import { migrateCommand } from './migrate-command';
import { startCommand } from './start-command';

const COMMANDS: Command[] = [startCommand, migrateCommand, queuesCommand, jobsCommand];

const OVERVIEW = [
  'Usage: nest-oban <command> [flags]',
  '',
  'Commands:',
  ...COMMANDS.map((c) => `  ${c.name.padEnd(8)}  ${c.summary.split(/(?<=\.) /)[0]}`),
  '',
  'nest-oban <command> --help shows its flags.',
  '',
].join('\n');

/** Runs one command line; resolves with the exit code (0 ok, 1 failed, 2 bad usage). */
export async function runCli(argv: string[], context: CliContext): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    context.out(OVERVIEW);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    context.err(`nest-oban: unknown command '${name}' (commands: ${COMMANDS.map((c) => c.name).join(', ')})\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    context.out(helpText(command.usage, command.summary, command.flags));
    return 0;
  }
  try {
    return await command.run(parseFlags(command.name, rest, command.flags), context);
  } catch (error) {
    if (error instanceof UsageError) {
      context.err(`${error.message}\n`);
      return 2;
    }
    context.err(`nest-oban ${command.name} failed: ${(error as Error)?.message ?? String(error)}\n`);
    return 1;
  }
}

if (require.main === module) {
  const context: CliContext = {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    env: process.env,
    cwd: process.cwd(),
  };
  runCli(process.argv.slice(2), context).then(
    (code) => {
      // Written out first: stdout to a pipe is asynchronous.
      process.stdout.write('', () => process.exit(code));
    },
    (error) => {
      process.stderr.write(`nest-oban: ${(error as Error)?.stack ?? String(error)}\n`, () => process.exit(1));
    },
  );
}
