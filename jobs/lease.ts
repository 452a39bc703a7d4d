/**
 * The publish lock of the BullMQ path: a lease in Redis, one per (model store, model name).
 *
 *   key    <prefix>:lock:model:<sha256(resolved store path), 16 hex>:<name>   (the queue prefix: one
 *          Redis Cluster slot with {mtf})
 *   value  {"host","pid","token","acquired_at"}; the random token makes it this holder's
 *   take   SET key value NX PX ttl
 *   renew  Lua: PEXPIRE only if GET key == value (every ttl/3 on a timer, and before the store writes)
 *   give   Lua: DEL only if GET key == value — never someone else's lease
 *
 * Expiry is judged by Redis's clock alone, so a worker killed mid-publish blocks the next one for at
 * most a lease (default 30 s) whichever host it ran on, with no pid probed anywhere. The holder's own
 * view of its lease — what `check()` reads, synchronously, before each step the store cannot take
 * back — is the moment it sent its last successful renewal plus the lease, less a drift allowance
 * (as Redlock computes validity); Redis may keep it longer, never shorter.
 *
 * Written on ioredis (already a dependency) rather than with the `redlock` package: with one Redis
 * (every worker of a pipeline shares the queues' Redis) Redlock's quorum reduces to exactly these three
 * commands; redlock 4.2 is what npm installs, v5 has been a beta for years. The store's file lease is
 * taken inside this one (src/export/lock.ts), so `mtf export` and `mtf models rollback` run by hand,
 * which know no Redis, still exclude a worker.
 *
 * Wiring (jobs/processors/stage.ts, publish jobs): `ctx.publishLock = publishLockFromEnv()`, with
 * `process.env[LEASE_ENV] = leaseEnv(conn)` set by the worker before its sandboxed children start.
 */
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { HeldLock, PublishLock, PublishTarget } from '../src/export/lock.ts';
import { TransientError } from '../src/errors/index.ts';
import { LeaseHeldError, LeaseLostError } from '../src/io/index.ts';
import type { QueueConnection } from './connection.ts';

/** Default lease length (ms): how long a publisher killed mid-publish blocks the next. */
export const REDIS_LEASE_MS = 30_000;

export interface RedisLeaseOptions {
  /** lease length in ms (default REDIS_LEASE_MS) */
  ttlMs?: number;
  /** renewal period while held (default ttl/3; 0 = no timer, tests) */
  renewEveryMs?: number;
}

const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

export function leaseKey(prefix: string, target: PublishTarget): string {
  const store = createHash('sha256').update(resolve(target.storeDir)).digest('hex').slice(0, 16);
  return `${prefix}:lock:model:${store}:${target.name}`;
}

/** The publish lock on the queues' Redis (a connection of its own per acquisition, closed on release). */
export function redisPublishLock(conn: QueueConnection, opts: RedisLeaseOptions = {}): PublishLock {
  const ttlMs = opts.ttlMs ?? REDIS_LEASE_MS;
  if (!Number.isInteger(ttlMs) || ttlMs < 100) throw new RangeError(`ttlMs must be a whole number ≥ 100, got ${ttlMs}`);
  const renewEveryMs = opts.renewEveryMs ?? Math.floor(ttlMs / 3);
  return {
    async acquire(target: PublishTarget): Promise<HeldLock> {
      const { Redis } = await import('ioredis');
      // Commands fail instead of waiting for a reconnect (the queues' options wait forever): a lease
      // that cannot be renewed must run out, not hang the publish.
      const client = new Redis({
        ...(conn.redis as object),
        lazyConnect: true,
        maxRetriesPerRequest: 1,
        commandTimeout: Math.max(1000, Math.floor(ttlMs / 3)),
        retryStrategy: (times: number) => (times > 5 ? null : Math.min(200 * times, 1000)),
      });
      client.on('error', () => {}); // each failed command reports itself
      const key = leaseKey(conn.prefix, target);
      const value = JSON.stringify({ host: hostname(), pid: process.pid, token: randomBytes(16).toString('hex'), acquired_at: new Date().toISOString() });
      const drift = Math.floor(ttlMs * 0.01) + 2;
      try {
        await client.connect();
        const sent = Date.now();
        const ok = await client.set(key, value, 'PX', ttlMs, 'NX');
        if (ok !== 'OK') {
          const [holder, pttl] = await Promise.all([client.get(key), client.pttl(key)]);
          throw new LeaseHeldError(`redis lease ${key} on ${conn.display}: held by ${holder ?? '(released just now)'}${pttl > 0 ? ` for up to ${(pttl / 1000).toFixed(1)} s more` : ''}; another publish of ${target.name} is running, retry when it is done`, key, null);
        }
        return new RedisLease(client, key, value, ttlMs, drift, sent, renewEveryMs, conn.display);
      } catch (err) {
        client.disconnect();
        if (err instanceof TransientError) throw err;
        throw new TransientError(`redis lease ${key} on ${conn.display}: ${(err as Error).message}`, { cause: err });
      }
    },
  };
}

class RedisLease implements HeldLock {
  private validUntil: number;
  private lost: string | null = null;
  private released = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly client: import('ioredis').Redis,
    private readonly key: string,
    private readonly value: string,
    private readonly ttlMs: number,
    private readonly drift: number,
    sent: number,
    renewEveryMs: number,
    private readonly display: string,
  ) {
    this.validUntil = sent + ttlMs - drift;
    if (renewEveryMs > 0) {
      this.timer = setInterval(() => void this.renew().catch(() => {}), renewEveryMs);
      this.timer.unref();
    }
  }

  get describe(): string {
    return `redis lease ${this.key} on ${this.display}`;
  }

  /** the margin a lease must still have for the next step to start: a quarter of it, at most 5 s */
  private get safetyMs(): number {
    return Math.min(this.ttlMs / 4, 5000);
  }

  async renew(): Promise<void> {
    if (this.released || this.lost) return;
    const sent = Date.now();
    let r: unknown;
    try {
      r = await this.client.eval(RENEW, 1, this.key, this.value, String(this.ttlMs));
    } catch {
      return; // Redis unreachable: the lease runs out locally (check() says so), unless a later renewal gets through
    }
    if (Number(r) === 1) this.validUntil = Math.max(this.validUntil, sent + this.ttlMs - this.drift);
    else this.lost = `${this.describe}: expired and taken by ${(await this.client.get(this.key).catch(() => null)) ?? 'nobody yet'}`;
  }

  check(): void {
    if (this.released) throw new LeaseLostError(`${this.describe}: released already`);
    if (this.lost) throw new LeaseLostError(`${this.lost}; this publisher stops before committing anything more`);
    const left = this.validUntil - Date.now();
    if (left < this.safetyMs) throw new LeaseLostError(`${this.describe}: ${left > 0 ? `only ${left} ms` : 'no time'} left of this publisher's lease (not renewed: Redis unreachable, or a step ran longer than ${this.ttlMs} ms); it stops before committing anything more`);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.timer) clearInterval(this.timer);
    try {
      await this.client.eval(RELEASE, 1, this.key, this.value);
    } catch {
      // unreachable: the lease expires by itself
    } finally {
      this.client.disconnect();
    }
  }
}

/** The environment variable that carries the worker's Redis connection to its sandboxed children. */
export const LEASE_ENV = 'MTF_PUBLISH_LEASE_REDIS';

/** The connection as the value of LEASE_ENV (ioredis options without functions, the prefix, the display). */
export function leaseEnv(conn: QueueConnection): string {
  const { retryStrategy: _r, ...redis } = conn.redis as Record<string, unknown>;
  return JSON.stringify({ redis, prefix: conn.prefix, display: conn.display });
}

/** The Redis publish lock from LEASE_ENV, or undefined when it is not set (then the file lease alone). */
export function publishLockFromEnv(env: NodeJS.ProcessEnv = process.env, opts: RedisLeaseOptions = {}): PublishLock | undefined {
  const text = env[LEASE_ENV];
  if (!text) return undefined;
  const c = JSON.parse(text) as QueueConnection; // the lease's client sets its own retry strategy
  return redisPublishLock({ redis: c.redis, prefix: c.prefix, display: c.display }, opts);
}
