import * as os from 'node:os';

/**
 * The lines every report opens its notes with: the command that runs it
 * again (`npm run <script> -- <flags> <this process's arguments>`), and on
 * what machine under what load.
 */
export function runNotes(
  script: string,
  flags: string[],
  startedAt: Date,
  server: string,
  loadBefore: number,
): string[] {
  const args = [...flags, ...process.argv.slice(2)];
  const cpus = os.cpus();
  return [
    `Command: npm run ${script}${args.length > 0 ? ` -- ${args.join(' ')}` : ''}; ${startedAt.toISOString()}`,
    `Machine: ${cpus.length} CPU (${cpus[0]?.model.trim()}), Node ${process.version}, ${server}; ` +
      `load average ${loadBefore.toFixed(2)} before, ${os.loadavg()[0].toFixed(2)} after`,
  ];
}
