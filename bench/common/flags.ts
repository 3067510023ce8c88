/** A benchmark's command-line flags: `--name` or `--name=value`, only the ones it knows. */
export class Flags {
  private readonly values = new Map<string, string>();

  constructor(argv: string[], known: string[], entry: string) {
    for (const arg of argv) {
      const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
      if (!match) throw new Error(`bench: unknown argument '${arg}' (see the top of ${entry})`);
      if (!known.includes(match[1])) {
        throw new Error(`bench: unknown flag --${match[1]} (known: ${known.map((k) => `--${k}`).join(', ')})`);
      }
      this.values.set(match[1], match[2] ?? 'true');
    }
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  /** The comma-separated values of `--name=a,b`, or undefined when absent. */
  list(name: string): string[] | undefined {
    return this.values.get(name)?.split(',');
  }

  /** A whole number >= `min`; `fallback` when absent. */
  int(name: string, fallback: number, min = 1): number {
    const raw = this.values.get(name);
    return raw === undefined ? fallback : this.whole(name, raw, min);
  }

  /** Whole numbers >= `min`, comma-separated; `fallback` when absent. */
  ints(name: string, fallback: number[], min = 0): number[] {
    return this.list(name)?.map((raw) => this.whole(name, raw, min)) ?? fallback;
  }

  private whole(name: string, raw: string, min: number): number {
    const value = Number(raw);
    if (raw === '' || !Number.isInteger(value) || value < min) {
      throw new Error(`bench: --${name} takes whole numbers >= ${min}, not '${raw}'`);
    }
    return value;
  }
}
