/**
 * Redis for the queues: `REDIS_URL` (redis://[user:password@]host:port[/db], rediss:// for TLS;
 * default redis://127.0.0.1:6379) and a key prefix (`MTF_QUEUE_PREFIX`, default `mtf`). With Redis
 * Cluster, give the prefix a hash tag — `{mtf}` — so that every key of a queue lands in one slot, as
 * BullMQ requires.
 */
import { isIP } from 'node:net';
import type { RedisOptions } from 'bullmq';
import { InputError, TransientError } from '../src/errors/index.ts';

export interface QueueConnection {
  /** ioredis options (BullMQ creates its connections from them) */
  redis: RedisOptions;
  prefix: string;
  /** the URL with the password masked, for logs */
  display: string;
}

/**
 * A URL-ish text with everything between the scheme's `//` and the last `@` masked: what a
 * user:password part would be, also in a text `new URL` cannot parse (a password with a raw `#`).
 */
export function maskCredentials(text: string): string {
  const start = text.indexOf('//');
  const at = text.lastIndexOf('@');
  if (at < 0) return text;
  const from = start >= 0 && start < at ? start + 2 : 0;
  return `${text.slice(0, from)}***${text.slice(at)}`;
}

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_PREFIX = 'mtf';

export function queueConnection(env: NodeJS.ProcessEnv = process.env, over: { url?: string; prefix?: string } = {}): QueueConnection {
  const text = over.url ?? env.REDIS_URL ?? DEFAULT_REDIS_URL;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InputError(`REDIS_URL: not a URL: '${maskCredentials(text)}' (expected redis://[user:password@]host:port or rediss://… for TLS; special characters in the password percent-encoded, e.g. # as %23)`, { field: 'REDIS_URL' });
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new InputError(`REDIS_URL: expected redis:// or rediss://, got '${url.protocol}//'`, { field: 'REDIS_URL' });
  }
  const db = url.pathname && url.pathname !== '/' ? Number(url.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new InputError(`REDIS_URL: database '${maskCredentials(url.pathname.slice(1))}' is not a number`, { field: 'REDIS_URL' });
  const prefix = over.prefix ?? env.MTF_QUEUE_PREFIX ?? DEFAULT_PREFIX;
  if (!/^[{}A-Za-z0-9_.-]+$/.test(prefix)) throw new InputError(`MTF_QUEUE_PREFIX: letters, digits, _ . - and {} only, got '${prefix}'`, { field: 'MTF_QUEUE_PREFIX' });
  const redis: RedisOptions = {
    host: url.hostname || '127.0.0.1',
    port: url.port ? Number(url.port) : 6379,
    db,
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    // SNI carries host names only (RFC 6066); the certificate is checked against the host either way
    tls: url.protocol === 'rediss:' ? (isIP(url.hostname) ? {} : { servername: url.hostname }) : undefined,
    // BullMQ workers block on Redis; they must wait for a reconnect rather than fail a command.
    maxRetriesPerRequest: null,
    // Reconnect forever, backing off to 2 s: a restarted Redis is picked up again.
    retryStrategy: (times: number) => Math.min(100 * times, 2000),
  };
  const display = `${url.protocol}//${url.username ? `${url.username}:***@` : url.password ? ':***@' : ''}${url.host}${db ? `/${db}` : ''}`;
  return { redis, prefix, display };
}

/** Fails fast, naming the URL, when Redis cannot be reached (commands that add work check first). */
export async function checkReachable(conn: QueueConnection, timeoutMs = 5000): Promise<void> {
  const { Redis } = await import('ioredis');
  const r = new Redis({ ...(conn.redis as object), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: timeoutMs });
  let cause = '';
  r.on('error', (err: Error) => (cause ||= err.message));
  try {
    await r.connect();
    await r.ping();
  } catch (err) {
    throw new TransientError(`REDIS_URL ${conn.display}: unreachable (${cause || (err as Error).message}); nothing was started`);
  } finally {
    r.disconnect();
  }
}
