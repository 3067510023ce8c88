import * as net from 'node:net';

/** BullMQ's Redis: BENCH_REDIS_URL, or 127.0.0.1:6379. */
export const BENCH_REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function redisConnection(): { host: string; port: number; maxRetriesPerRequest: null } {
  const url = new URL(BENCH_REDIS_URL);
  // BullMQ's workers need maxRetriesPerRequest: null (their blocking connection retries forever).
  return { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null };
}

/**
 * Whether Redis answers PING within `timeoutMs`, asked over a plain socket
 * (no client library loaded): BullMQ's rows run only then, and are marked
 * "Redis not reachable" otherwise.
 */
export function redisReachable(timeoutMs = 1_000): Promise<boolean> {
  const { host, port } = redisConnection();
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}
