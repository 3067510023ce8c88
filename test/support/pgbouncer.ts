import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const BIN = process.env.PGBOUNCER_BIN ?? '/usr/sbin/pgbouncer';

/**
 * A PgBouncer of a test's own (Debian's `pgbouncer` package), in transaction
 * mode, on a free port, in front of the shared server at 127.0.0.1:5432.
 * Runs in the foreground as a child of the test (as the `postgres` OS user
 * when the test runs as root: PgBouncer refuses root), so it ends with it.
 */
export class TestPgBouncer {
  private readonly stopAtExit = () => this.child.kill('SIGKILL');

  private constructor(
    private readonly dir: string,
    readonly port: number,
    private readonly child: ChildProcess,
    private readonly log: () => string,
  ) {
    process.once('exit', this.stopAtExit);
  }

  /** A URL through the pooler to `database` on the shared server. */
  url(database = 'test'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  static async start({ poolSize = 4, upstreamPort = 5432 } = {}): Promise<TestPgBouncer> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'oban-pgbouncer-'));
    const port = await freePort();
    writeFileSync(path.join(dir, 'users.txt'), '"postgres" ""\n');
    writeFileSync(
      path.join(dir, 'pgbouncer.ini'),
      [
        '[databases]',
        `* = host=127.0.0.1 port=${upstreamPort}`,
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${port}`,
        'unix_socket_dir =',
        'auth_type = trust',
        `auth_file = ${path.join(dir, 'users.txt')}`,
        'pool_mode = transaction',
        // Fewer server connections than clients: statements of one client really do move between them.
        `default_pool_size = ${poolSize}`,
        'max_client_conn = 200',
        'admin_users = postgres',
        '',
      ].join('\n'),
    );
    const args = [path.join(dir, 'pgbouncer.ini')];
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
      chownSync(dir, uid, gid);
      args.unshift('-u', 'postgres');
    }
    const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const bouncer = new TestPgBouncer(dir, port, child, () => output);
    await bouncer.listening();
    return bouncer;
  }

  /** PgBouncer's own log so far (for a failing assertion's message). */
  get output(): string {
    return this.log();
  }

  async stop(): Promise<void> {
    process.removeListener('exit', this.stopAtExit);
    if (this.child.exitCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGINT');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async listening(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`pgbouncer exited: ${this.output}`);
      const up = await new Promise<boolean>((resolve) => {
        const socket = net.connect(this.port, '127.0.0.1', () => {
          socket.end();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
      if (up) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`pgbouncer did not listen on ${this.port}: ${this.output}`);
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
