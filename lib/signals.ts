import { Injectable } from '@nestjs/common';

/** Control messages sent to every node on the signal channel. */
export type Signal =
  | { action: 'pause'; queue: string }
  | { action: 'resume'; queue: string }
  | { action: 'scale'; queue: string; limit: number }
  /**
   * Limits across nodes changed (scaleQueue with globalLimit, rateLimit or
   * partition): `change` is a QueueLimitsChange (store/limited-claim.ts),
   * checked again by each node that receives it; `limit` if that changed too.
   */
  | { action: 'limits'; queue: string; change: Record<string, unknown>; limit?: number }
  | { action: 'pkill'; job_id: number }
  /** The leader gave up its lease (shutdown): every node bids for it now. */
  | { action: 'leader'; resigned: string }
  /**
   * In this process only: an insert committed available jobs of `queue`. Its
   * own producer starts claiming without waiting for the NOTIFY to come back.
   */
  | { action: 'available'; queue: string };

/**
 * Delivers signals inside this process at once, besides the NOTIFY that carries
 * them to every node, so the caller's own node acts even if its LISTEN
 * connection is down. Handlers are idempotent: a signal arriving twice is fine.
 */
@Injectable()
export class SignalBus {
  private readonly handlers: Array<(signal: Signal) => void> = [];

  subscribe(handler: (signal: Signal) => void): () => void {
    this.handlers.push(handler);
    return () => {
      const i = this.handlers.indexOf(handler);
      if (i >= 0) this.handlers.splice(i, 1);
    };
  }

  emit(signal: Signal): void {
    for (const handler of this.handlers) handler(signal);
  }

  /** Parses a NOTIFY payload; null when it is not a signal this version knows. */
  static parse(payload: string): Signal | null {
    try {
      const signal = JSON.parse(payload);
      return typeof signal?.action === 'string' ? (signal as Signal) : null;
    } catch {
      return null;
    }
  }
}
