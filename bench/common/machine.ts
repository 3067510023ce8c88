import * as os from 'node:os';

/** The machine's load averages (1, 5, 15 min), as "1.23 / 0.98 / 0.50". */
export function loadAverages(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');
}

/**
 * The lines every report opens its notes with: the command that runs it
 * again (`npm run <script> -- <flags> <this process's arguments>`), and on
 * what machine under what load (`loadBefore`: loadAverages() at the start).
 */
export function runNotes(
  script: string,
  flags: string[],
  startedAt: Date,
  server: string,
  loadBefore: string,
): string[] {
  const args = [...flags, ...process.argv.slice(2)];
  const cpus = os.cpus();
  return [
    `Command: npm run ${script}${args.length > 0 ? ` -- ${args.join(' ')}` : ''}; ${startedAt.toISOString()}`,
    `Machine: ${cpus.length} CPU (${cpus[0]?.model.trim()}), Node ${process.version}, ${server}; ` +
      `load average (1 / 5 / 15 min) ${loadBefore} before, ${loadAverages()} after`,
  ];
}
