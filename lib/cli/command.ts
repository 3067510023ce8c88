import type { FlagSpec, ParsedFlags } from './args';

/** Where a command writes and what it reads from its process. */
export interface CliContext {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export interface Command {
  name: string;
  usage: string;
  summary: string;
  flags: FlagSpec[];
  /** Resolves with the process's exit code. */
  run(flags: ParsedFlags, context: CliContext): Promise<number>;
}
