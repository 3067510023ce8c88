import * as net from 'node:net';

/** One client connection through the proxy and its upstream twin. */
interface Link {
  client: net.Socket;
  server: net.Socket;
  /** Server-to-client bytes are dropped (the reply is lost). */
  muted: boolean;
  /** Nothing is forwarded either way, nothing is closed: a silently dead link. */
  frozen: boolean;
  /** The last bytes the client sent, so a pattern split across chunks is still seen. */
  tail: Buffer;
}

/** What to do to the link on which the client next sends `pattern`. */
interface Trap {
  pattern: Buffer;
  action: 'cut' | 'freeze';
  holdMs: number;
  /** The pattern went by. */
  seen: () => void;
  /** The link was cut (or froze). */
  done: () => void;
}

/** A trap's two moments: the statement was sent; the link was cut. */
export interface TrapEvents {
  sent: Promise<void>;
  cut: Promise<void>;
}

/**
 * A TCP proxy on 127.0.0.1 in front of a Postgres server, for fault tests: it
 * forwards bytes both ways until told to refuse new connections, or to cut or
 * freeze the connection on which the client sends a given byte pattern (the
 * name of a prepared statement travels in every Bind message, so a pattern
 * like `oban_fetch_jobs_<prefix>` marks a claim).
 */
export class TcpProxy {
  private readonly links = new Set<Link>();
  private readonly server = net.createServer((client) => this.accept(client));
  private refusing = false;
  private trap: Trap | undefined;
  /** Connections accepted so far (refused ones excluded). */
  accepted = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /** The proxy in front of the server of `url` (a postgres:// URL). */
  static forUrl(url: string): TcpProxy {
    const u = new URL(url);
    return new TcpProxy(u.hostname, Number(u.port || 5432));
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this.port;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** `url` with its host and port replaced by the proxy's. */
  url(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  /** While on, new connections are closed as soon as they arrive (the server seems unreachable). */
  refuseNew(on: boolean): void {
    this.refusing = on;
  }

  /**
   * Arms a one-shot trap: the client bytes that contain `pattern` reach the
   * server, its replies are dropped, and `holdMs` later (the statement has
   * run and committed) both sides are closed.
   */
  cutAfter(pattern: string, holdMs = 500): TrapEvents {
    return this.arm(pattern, 'cut', holdMs);
  }

  /**
   * Arms a one-shot trap: the client bytes that contain `pattern` are not
   * forwarded, and from then on that link forwards nothing either way and
   * stays open, like a socket whose peer vanished.
   */
  freezeAt(pattern: string): TrapEvents {
    return this.arm(pattern, 'freeze', 0);
  }

  /** Every connection open now goes silent (as freezeAt); new connections work. */
  freezeOpen(): number {
    for (const link of this.links) link.frozen = true;
    return this.links.size;
  }

  async stop(): Promise<void> {
    for (const link of this.links) this.drop(link);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private arm(pattern: string, action: Trap['action'], holdMs: number): TrapEvents {
    let seen!: () => void;
    let done!: () => void;
    const sent = new Promise<void>((resolve) => (seen = resolve));
    const cut = new Promise<void>((resolve) => (done = resolve));
    this.trap = { pattern: Buffer.from(pattern), action, holdMs, seen, done };
    return { sent, cut };
  }

  private accept(client: net.Socket): void {
    if (this.refusing) {
      client.destroy();
      return;
    }
    this.accepted++;
    const server = net.connect(this.targetPort, this.targetHost);
    const link: Link = { client, server, muted: false, frozen: false, tail: Buffer.alloc(0) };
    this.links.add(link);
    client.on('data', (chunk) => this.fromClient(link, chunk));
    server.on('data', (chunk) => {
      if (!link.muted && !link.frozen) client.write(chunk);
    });
    const close = () => {
      if (!link.frozen) this.drop(link);
    };
    client.on('close', close);
    server.on('close', close);
    client.on('error', () => undefined);
    server.on('error', () => undefined);
  }

  private fromClient(link: Link, chunk: Buffer): void {
    if (link.frozen) return;
    const trap = this.trap;
    const seen = Buffer.concat([link.tail, chunk]);
    // A match must end in this chunk: what the tail alone holds was sent before the trap was armed.
    const from = trap ? Math.max(0, link.tail.length - trap.pattern.length + 1) : 0;
    link.tail = seen.subarray(Math.max(0, seen.length - 256));
    if (trap && seen.indexOf(trap.pattern, from) >= 0) {
      this.trap = undefined;
      trap.seen();
      if (trap.action === 'freeze') {
        link.frozen = true;
        trap.done();
        return;
      }
      link.muted = true;
      link.server.write(chunk);
      setTimeout(() => {
        this.drop(link);
        trap.done();
      }, trap.holdMs);
      return;
    }
    link.server.write(chunk);
  }

  private drop(link: Link): void {
    this.links.delete(link);
    link.client.destroy();
    link.server.destroy();
  }
}
