/**
 * The Redis publish lease of the BullMQ path (jobs/lease.ts) against the real Redis, under a key prefix
 * of this file's own: one holder at a time, renewal, expiry with compare-and-delete (a holder whose lease
 * ran out never deletes the next one's), the store stopping when the lease is lost, and both locks
 * (Redis, then the store's file lease) excluding a hand-run publish that knows no Redis.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { leaseEnv, leaseKey, LEASE_ENV, publishLockFromEnv, redisPublishLock } from '../../jobs/lease.ts';
import { listVersions, readCurrent, setCurrent, withPublishLock, type HeldLock } from '../../src/export/index.ts';
import { LeaseHeldError, LeaseLostError } from '../../src/io/index.ts';
import { publishRandom } from '../export/helpers.ts';
import { tempDir } from '../helpers/tmp.ts';
import { triggerRun } from '../../jobs/trigger.ts';
import { readRunRecord, readStage, runOutcome, specOf } from '../../src/stages/index.ts';
import { END_DATE, simulatedLogs, tinyPipeline } from '../stages/fixtures.ts';
import { NO_REDIS, SHARED_REDIS, startWorker, testConnection, waitFor } from './harness.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('redis publish lease', { skip: NO_REDIS }, () => {
  const conn = NO_REDIS ? null! : testConnection();
  const redis = NO_REDIS ? null! : new Redis({ ...conn.redis, lazyConnect: true });
  const held: HeldLock[] = [];
  after(async () => {
    for (const h of held) await h.release();
    redis?.disconnect();
  });
  const take = async (lock: ReturnType<typeof redisPublishLock>, target: { storeDir: string; name: string }) => {
    const h = await lock.acquire(target);
    held.push(h);
    return h;
  };

  test('one holder at a time, told who holds it; released by its owner, then the next takes it', async () => {
    const target = { storeDir: tempDir(), name: 'feed' };
    const key = leaseKey(conn.prefix, target);
    assert.match(key, new RegExp(`^${conn.prefix}:lock:model:[0-9a-f]{16}:feed$`));
    const a = await take(redisPublishLock(conn), target);
    await assert.rejects(redisPublishLock(conn).acquire(target), (e: Error) => e instanceof LeaseHeldError && e.message.includes(key) && new RegExp(`held by \\{"host":"[^"]+","pid":${process.pid},"token":"[0-9a-f]{32}"`).test(e.message));
    a.check();
    const other = await take(redisPublishLock(conn), { ...target, name: 'other' }); // another name: its own lease
    await other.release();
    await a.release();
    assert.equal(await redis.exists(key), 0);
    const b = await take(redisPublishLock(conn), target);
    await b.release();
  });

  test('renewal keeps a lease past its length; an expired one is lost and its release leaves the new owner\'s key', async () => {
    const target = { storeDir: tempDir(), name: 'feed' };
    const key = leaseKey(conn.prefix, target);
    const renewed = await take(redisPublishLock(conn, { ttlMs: 600, renewEveryMs: 150 }), target);
    await sleep(1500);
    renewed.check();
    await assert.rejects(redisPublishLock(conn).acquire(target), LeaseHeldError);
    await renewed.release();

    const late = await take(redisPublishLock(conn, { ttlMs: 400, renewEveryMs: 0 }), target); // never renewed
    await sleep(600);
    assert.throws(() => late.check(), LeaseLostError);
    const next = await take(redisPublishLock(conn), target);
    const value = await redis.get(key);
    await late.renew(); // compare-and-pexpire: not its key any more
    assert.throws(() => late.check(), /expired and taken by \{"host"/);
    await late.release(); // compare-and-delete: not its key
    assert.equal(await redis.get(key), value, 'the new owner\'s lease is intact');
    next.check();
    await next.release();
    assert.equal(await redis.exists(key), 0);
  });

  test('a lease lost before the store commits: nothing is renamed into place, CURRENT untouched', async () => {
    const store = tempDir();
    publishRandom(store, 'm');
    const lock = redisPublishLock(conn, { ttlMs: 400, renewEveryMs: 0 });
    await assert.rejects(
      withPublishLock(lock, { storeDir: store, name: 'm' }, (outer) =>
        publishRandom(store, 'm', {
          seed: 2,
          held: outer,
          onPublish: () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 600), // a step longer than the lease
        }),
      ),
      (e: Error) => e instanceof LeaseLostError && /left of this publisher's lease/.test(e.message),
    );
    assert.deepEqual(listVersions(store, 'm'), ['v000001']);
    assert.equal(readCurrent(store, 'm'), 'v000001');
    assert.deepEqual(readdirSync(join(store, 'm')).filter((f) => f.startsWith('.')), []);
  });

  test('both locks: a worker (Redis lease, then the file lease) and a hand-run publish or rollback (file lease) exclude each other', async () => {
    const store = tempDir();
    publishRandom(store, 'm');
    const target = { storeDir: store, name: 'm' };
    const lock = publishLockFromEnv({ [LEASE_ENV]: leaseEnv(conn) })!; // as a sandboxed child builds it
    let handRun: unknown = null;
    let secondWorker: unknown = null;
    const w = await withPublishLock(lock, target, (outer) =>
      publishRandom(store, 'm', {
        seed: 2,
        held: outer,
        onPublish: () => {
          try {
            setCurrent({ storeDir: store, name: 'm', version: 'v000001' }); // `mtf models rollback` by hand
          } catch (e) {
            handRun = e;
          }
        },
      }),
    );
    assert.ok(handRun instanceof LeaseHeldError && /held by pid \d+ on .*\(publish m\)/.test(handRun.message), String(handRun));
    assert.equal(readCurrent(store, 'm'), w.version);

    // and a second worker is turned away by the Redis lease before it touches the store
    const first = await take(lock, target);
    try {
      await lock.acquire(target);
    } catch (e) {
      secondWorker = e;
    }
    assert.ok(secondWorker instanceof LeaseHeldError, String(secondWorker));
    await first.release();
    assert.equal(publishLockFromEnv({}), undefined, 'no Redis in the environment: the file lease alone');
  });
});

test('a worker publishes under the Redis lease: while another holder has it the publish job waits (retries), then publishes', { skip: NO_REDIS, timeout: 240_000 }, async () => {
  const work = tempDir();
  const conn = testConnection();
  const p = tinyPipeline(work, await simulatedLogs(join(work, 'logs')), { attempts: 8, backoffMs: 1000 });
  const redis = new Redis({ ...conn.redis, lazyConnect: true });
  after(() => redis.disconnect());
  // Someone else (another worker, elsewhere) holds the model's lease ...
  const key = leaseKey(conn.prefix, { storeDir: p.paths.store, name: p.publish.model });
  await redis.set(key, JSON.stringify({ host: 'elsewhere', pid: 1, token: 'f'.repeat(32) }), 'PX', 180_000);
  const w = startWorker(conn, SHARED_REDIS);
  try {
    const { record: claimed } = await triggerRun(conn, p, END_DATE, 'manual');
    // ... until our publish job has met it and is waiting to retry; then the other holder is done.
    await waitFor(() => readStage(specOf(claimed), 'publish')?.status === 'retrying', 200_000, `the publish to meet the held lease\n${w.output()}`);
    assert.equal(await redis.exists(key), 1, 'the other holder\'s lease was left alone');
    await redis.del(key);
    await waitFor(() => {
      const r = readRunRecord(p, END_DATE);
      return r !== null && runOutcome(r).status !== 'running';
    }, 200_000, `the run\n${w.output()}`);
    const record = readRunRecord(p, END_DATE)!;
    assert.equal(runOutcome(record).status, 'published', w.output());
    const publish = readStage(specOf(record), 'publish')!;
    assert.ok(publish.tries >= 2, `the first try met the held lease (tries ${publish.tries})\n${w.output()}`);
    assert.match(w.output(), new RegExp(`publish: .*${key.replace(/[{}]/g, '\\$&')}.*held by \\{"host":"elsewhere"`), 'the held lease is named in the log');
    assert.equal(await redis.exists(key), 0, 'released after the publish');
  } finally {
    w.proc.kill('SIGTERM');
    await w.exited;
  }
});
