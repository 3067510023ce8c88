import type { Logger } from '@nestjs/common';
import type { Database, ListenConnection, Notification } from '../db/database';
import { ObanEvents } from '../events/oban-events';
import { Retry } from '../util/retry';
import { Ticker } from '../util/ticker';

/**
 * Holds one LISTEN connection and keeps it: when it drops (network, a killed
 * backend, a restarted server) it reconnects with backoff, LISTENs again and
 * reports the reconnect, so the node can catch up on what it may have missed.
 * It pings the connection every `pingInterval` ms, so a socket that died
 * silently is found in seconds.
 */
export class Notifier {
  private connection: ListenConnection | undefined;
  /** The channels `connection` LISTENs on. */
  private listened = new Set<string>();
  private stopped = true;
  private readonly retry: Retry;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly handlers = new Map<string, Array<(payload: string) => void>>();
  private readonly reconnectHandlers: Array<() => void> = [];
  private readonly pinger: Ticker;

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
    pingInterval: number,
    private readonly events: ObanEvents = new ObanEvents(),
  ) {
    this.retry = new Retry('the notification connection (LISTEN; polling meanwhile)', logger);
    // A failed ping ends the connection, and the reconnect's retry reports it: nothing to add here.
    const ping = async () => {
      await this.connection?.ping?.().catch(() => undefined);
    };
    this.pinger = new Ticker('pinging the notification connection', pingInterval, ping, logger);
  }

  /**
   * Handles notifications on `channel`. A channel new to a connection that is
   * up is LISTENed at once; the promise settles when that is done (at once when
   * the connection is down: connecting or reconnecting LISTENs every channel).
   */
  on(channel: string, handler: (payload: string) => void): Promise<void> {
    const list = this.handlers.get(channel) ?? [];
    list.push(handler);
    this.handlers.set(channel, list);
    return this.listenNew();
  }

  onReconnect(handler: () => void): void {
    this.reconnectHandlers.push(handler);
  }

  /** The LISTEN connection is up now (false while it reconnects, and before start or after stop). */
  get listening(): boolean {
    return this.connection !== undefined;
  }

  /** Connects; if that fails the node still starts (polling covers) and keeps trying. */
  async start(): Promise<void> {
    this.stopped = false;
    if (this.db.canListen === false) {
      this.logger.log(
        `${this.db.description} is behind a transaction pooler and no directConnection is set: no LISTEN, ` +
          `queues are woken by the poll only (every stageInterval ms; signals within reconcileInterval ms)`,
      );
      return;
    }
    await this.connect(false);
    this.pinger.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    await this.pinger.stop();
    const connection = this.connection;
    this.connection = undefined;
    await connection?.close();
  }

  /** LISTENs the channels added since the connection LISTENed; a failure ends the connection, and the reconnect LISTENs them. */
  private async listenNew(): Promise<void> {
    const connection = this.connection;
    // All channels, not just the new: the connection pings by repeating its last LISTEN.
    const channels = [...this.handlers.keys()];
    if (!connection || channels.every((c) => this.listened.has(c))) return;
    try {
      await connection.listen(channels);
      if (this.connection === connection) for (const channel of channels) this.listened.add(channel);
    } catch (error) {
      this.logger.warn(`LISTEN on ${channels.join(', ')} failed (${(error as Error).message}); reconnecting`);
      await connection.close().catch(() => undefined);
      this.lost(connection, error as Error);
    }
  }

  private async connect(isReconnect: boolean): Promise<void> {
    let connection: ListenConnection | undefined;
    const channels = [...this.handlers.keys()];
    try {
      connection = await this.db.connectListener();
      connection.onNotification((n) => this.dispatch(n));
      connection.onEnd((error) => this.lost(connection!, error));
      await connection.listen(channels);
    } catch (error) {
      await connection?.close();
      this.lost(undefined, error as Error);
      return;
    }
    if (this.stopped) {
      await connection.close();
      return;
    }
    this.connection = connection;
    this.listened = new Set(channels);
    // A channel added while this connection was being opened.
    await this.listenNew();
    if (this.connection !== connection) return;
    this.retry.succeeded();
    if (this.events.has('notifier.connected')) {
      this.events.emit('notifier.connected', { node: this.events.node, reconnect: isReconnect });
    }
    if (isReconnect) for (const handler of this.reconnectHandlers) handler();
  }

  private lost(connection: ListenConnection | undefined, error?: Error): void {
    if (connection && this.connection !== connection) return;
    const wasUp = this.connection !== undefined;
    this.connection = undefined;
    if (this.stopped) return;
    if (wasUp && this.events.has('notifier.disconnected')) {
      const why = error ?? new Error('connection closed');
      const lost = { message: `${why.name}: ${why.message}`, stack: why.stack };
      this.events.emit('notifier.disconnected', { node: this.events.node, error: lost });
    }
    const delay = this.retry.failed(error ?? new Error('connection closed'), 'warn');
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.connect(true), delay);
  }

  private dispatch(notification: Notification): void {
    for (const handler of this.handlers.get(notification.channel) ?? []) {
      try {
        handler(notification.payload);
      } catch (error) {
        this.logger.error(`handling a notification on ${notification.channel} failed: ${(error as Error).message}`);
      }
    }
  }
}
