import { execFile, execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

/**
 * A PostgreSQL server of a test's own: its own data directory (in a temp
 * dir) and port, so a test may stop, crash and restart it while the shared
 * server stays untouched. Runs as the `postgres` OS user (through `runuser`
 * when the test runs as root). `destroy()` stops it and deletes its files;
 * a test process that exits without it still stops the server.
 */
export class ThrowawayPostgres {
  private running = false;
  private readonly stopAtExit = () => this.stopSync();

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {
    process.once('exit', this.stopAtExit);
  }

  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust auth). */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private get dataDir(): string {
    return path.join(this.dir, 'data');
  }

  /** Creates a new cluster (`initdb`) and starts it. */
  static async create(): Promise<ThrowawayPostgres> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'oban-pg-'));
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
      chownSync(dir, uid, gid);
    }
    const server = new ThrowawayPostgres(dir, await freePort());
    await server.pg('initdb', ['-D', server.dataDir, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
    await server.start();
    return server;
  }

  async start(): Promise<void> {
    const settings = [
      `-p ${this.port}`,
      `-c listen_addresses=127.0.0.1`,
      `-c unix_socket_directories=${this.dir}`,
      '-c fsync=off',
      '-c full_page_writes=off',
    ].join(' ');
    await this.pg('pg_ctl', [
      '-D',
      this.dataDir,
      '-l',
      path.join(this.dir, 'log'),
      '-w',
      '-t',
      '60',
      '-o',
      settings,
      'start',
    ]);
    this.running = true;
  }

  /**
   * Stops the server. `fast`: a clean shutdown (connections are cut, UNLOGGED
   * tables survive); `immediate`: a crash (recovery at the next start empties
   * UNLOGGED tables).
   */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.pg('pg_ctl', ['-D', this.dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
    this.running = false;
  }

  async destroy(): Promise<void> {
    if (this.running) await this.stop('immediate').catch(() => undefined);
    process.removeListener('exit', this.stopAtExit);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private stopSync(): void {
    if (!this.running) return;
    try {
      execFileSync(...this.command('pg_ctl', ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop']), {
        stdio: 'ignore',
      });
    } catch {
      // already gone
    }
  }

  private async pg(program: string, args: string[]): Promise<void> {
    const [file, argv] = this.command(program, args);
    try {
      await run(file, argv, { cwd: this.dir });
    } catch (error) {
      const e = error as { stderr?: string; stdout?: string; message: string };
      throw new Error(`${program} ${args.at(-1)} failed: ${e.stderr || e.stdout || e.message}`);
    }
  }

  private command(program: string, args: string[]): [string, string[]] {
    const file = path.join(BIN, program);
    return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
