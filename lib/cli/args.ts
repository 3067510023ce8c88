import { ObanConfigError } from '../errors';

/** One flag a command takes: `--name value`, or `--name` alone for a switch. */
export interface FlagSpec {
  name: string;
  /** A switch takes no value. */
  switch?: boolean;
  /** Shown in --help after the flag. */
  value?: string;
  help: string;
}

export type ParsedFlags = Record<string, string | true | undefined>;

/** An error in how the command was called: printed without a stack, exit code 2. */
export class UsageError extends ObanConfigError {}

/** Parses `--flag value`, `--flag=value` and switches; anything else names itself in the error. */
export function parseFlags(command: string, argv: string[], specs: FlagSpec[]): ParsedFlags {
  const byName = new Map(specs.map((spec) => [spec.name, spec]));
  const flags: ParsedFlags = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const match = /^--([a-z][a-z-]*)(?:=(.*))?$/s.exec(arg);
    if (!match)
      throw new UsageError(`nest-oban ${command}: unexpected argument '${arg}' (see nest-oban ${command} --help)`);
    const [, name, inline] = match;
    const spec = byName.get(name);
    if (!spec) throw new UsageError(`nest-oban ${command}: unknown flag --${name} (see nest-oban ${command} --help)`);
    if (name in flags) throw new UsageError(`nest-oban ${command}: --${name} is given twice`);
    if (spec.switch) {
      if (inline !== undefined) throw new UsageError(`nest-oban ${command}: --${name} takes no value`);
      flags[name] = true;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined || (inline === undefined && value.startsWith('--'))) {
      throw new UsageError(`nest-oban ${command}: --${name} needs a value (${spec.value ?? 'value'})`);
    }
    flags[name] = value;
  }
  return flags;
}

export function stringFlag(flags: ParsedFlags, name: string): string | undefined {
  const value = flags[name];
  return typeof value === 'string' ? value : undefined;
}

/** A whole number flag, at least `min`. */
export function integerFlag(command: string, flags: ParsedFlags, name: string, min: number): number | undefined {
  const value = stringFlag(flags, name);
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim()) || Number(value) < min) {
    throw new UsageError(`nest-oban ${command}: --${name} must be a whole number >= ${min}, got '${value}'`);
  }
  return Number(value);
}

/** Help text: usage line, summary, then each flag. */
export function helpText(usage: string, summary: string, specs: FlagSpec[]): string {
  const rows = specs.map((spec) => [`--${spec.name}${spec.value ? ` <${spec.value}>` : ''}`, spec.help]);
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return [
    `Usage: ${usage}`,
    '',
    summary,
    '',
    'Flags:',
    ...rows.map(([flag, help]) => `  ${flag.padEnd(width)}  ${help}`),
    '',
  ].join('\n');
}
