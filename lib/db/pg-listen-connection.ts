import type { Client } from 'pg';
import type { ListenConnection, Notification } from './database';
import { isReadTimeout, quoteIdent, withReadTimeout } from './pg-query';

/**
 * The notifier's own pg Client. It ends (once) on an error, on close, and
 * when a ping goes unanswered for `answerWithinMs`: a socket that died
 * without a word (a dropped route, a frozen peer) is found by the next ping,
 * not by TCP hours later.
 */
export class PgListenConnection implements ListenConnection {
  private ended = false;
  private readonly endHandlers: Array<(error?: Error) => void> = [];
  private listenSql = 'SELECT 1';

  constructor(
    private readonly client: Client,
    private readonly answerWithinMs: number,
  ) {
    client.on('error', (error) => {
      this.end(error);
      this.drop();
    });
    client.on('end', () => this.end());
  }

  async listen(channels: string[]): Promise<void> {
    if (channels.length === 0) return;
    this.listenSql = channels.map((c) => `LISTEN ${quoteIdent(c)}`).join('; ');
    await this.roundTrip();
  }

  /** Sends LISTEN again: a round trip that changes nothing when the connection is fine. */
  ping(): Promise<void> {
    return this.roundTrip();
  }

  onNotification(handler: (notification: Notification) => void): void {
    this.client.on('notification', (msg) => handler({ channel: msg.channel, payload: msg.payload ?? '' }));
  }

  onEnd(handler: (error?: Error) => void): void {
    this.endHandlers.push(handler);
  }

  async close(): Promise<void> {
    this.ended = true;
    // A dead peer never answers the goodbye: give it a moment, then drop the socket.
    const timer = setTimeout(() => this.drop(), this.answerWithinMs);
    await this.client.end().catch(() => undefined);
    clearTimeout(timer);
  }

  private async roundTrip(): Promise<void> {
    try {
      await this.client.query(withReadTimeout({ text: this.listenSql }, this.answerWithinMs));
    } catch (error) {
      const lost = isReadTimeout(error)
        ? new Error(`the database did not answer within connectTimeout (${this.answerWithinMs} ms)`)
        : (error as Error);
      this.end(lost);
      this.drop();
      throw lost;
    }
  }

  private end(error?: Error): void {
    if (this.ended) return;
    this.ended = true;
    for (const handler of this.endHandlers) handler(error);
  }

  private drop(): void {
    this.client.connection.stream.destroy();
  }
}
