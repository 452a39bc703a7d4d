/**
 * The model store's publish lock (src/io/lease.ts under src/export/store.ts): processes and simulated
 * hosts racing, planted empty / garbage / foreign lock files, a holder killed mid-publish, a holder
 * whose lease runs out, release by the owner only, and the race-free take-over.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { LOCK_FILE, listVersions, readCurrent, readVersion, type HeldLock } from '../../src/export/index.ts';
import { acquireFileLease, LeaseHeldError, LeaseLostError, readLease, type LeaseHolder } from '../../src/io/index.ts';
import { ROOT } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';
import { publishRandom } from './helpers.ts';

const children = new Set<ChildProcess>();
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function child(args: Record<string, unknown>) {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'lockChild.ts'), JSON.stringify(args)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let out = '';
  let err = '';
  proc.stdout!.on('data', (b) => (out += b));
  proc.stderr!.on('data', (b) => (err += b));
  const done = new Promise<number>((resolve) => proc.on('close', (code) => resolve(code ?? -1)));
  return {
    proc,
    done,
    out: () => out,
    err: () => err,
    /** the last JSON line it printed */
    result: () => JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown>,
    async waitFor(text: string, ms = 90_000): Promise<number> {
      const t0 = Date.now();
      while (!out.includes(text)) {
        if (Date.now() - t0 > ms || proc.exitCode !== null) throw new Error(`child did not print '${text}' (exit ${proc.exitCode}): ${out}\n${err}`);
        await sleep(20);
      }
      return Date.now();
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lockPath = (store: string, name: string) => join(store, name, LOCK_FILE);
const dotEntries = (store: string, name: string) => readdirSync(join(store, name)).filter((f) => f.startsWith('.'));

function lease(over: Partial<LeaseHolder>): string {
  const now = Date.now();
  const h: LeaseHolder = {
    format: 'batchrl-mtf/lease@1',
    host: hostname(),
    pidns: readLeasePidns(),
    pid: process.pid,
    token: 'planted',
    purpose: 'publish m',
    acquired_at: new Date(now).toISOString(),
    renewed_at: new Date(now).toISOString(),
    expires_at: new Date(now + 60_000).toISOString(),
    ...over,
  };
  return JSON.stringify(h) + '\n';
}

/** this process's pid namespace as a lease records it (a lease of our own, read back) */
function readLeasePidns(): string | null {
  const dir = tempDir();
  const l = acquireFileLease(join(dir, 'probe'));
  const seen = readLease(join(dir, 'probe'));
  l.release();
  return seen.kind === 'lease' ? seen.holder.pidns : null;
}

/** Every version's `replaces` is a different one and they chain from CURRENT back to the first: no two publishers ever decided on the same CURRENT. */
function assertLinearChain(store: string, name: string, expected: number): void {
  const versions = listVersions(store, name);
  assert.equal(versions.length, expected, `versions: ${versions.join(', ')}`);
  const replaces = new Map(versions.map((v) => [v, readVersion(store, name, v).manifest.replaces]));
  assert.equal(new Set(replaces.values()).size, versions.length, `two versions replaced the same one: ${JSON.stringify([...replaces])}`);
  let v: string | null = readCurrent(store, name);
  let n = 0;
  while (v) {
    n++;
    v = replaces.get(v) ?? null;
  }
  assert.equal(n, versions.length, 'the chain from CURRENT back reaches every version');
}

/** enter/exit lines never interleave: one publisher inside the lock at a time. */
function assertExclusive(log: string): number {
  const lines = readFileSync(log, 'utf8').trim().split('\n');
  assert.equal(lines.length % 2, 0);
  for (let i = 0; i < lines.length; i += 2) {
    const [e, id] = lines[i].split(' ');
    assert.equal(e, 'enter', `line ${i}: ${lines[i]}`);
    assert.equal(lines[i + 1], `exit ${id}`, `line ${i + 1}: '${lines[i + 1]}' inside ${id}'s critical section`);
  }
  return lines.length / 2;
}

describe('publish lock', () => {
  for (const hosts of [null, ['host-a', 'host-b']] as const) {
    test(hosts ? 'two simulated hosts racing: one publisher at a time, a linear chain of versions' : 'two processes racing: one publisher at a time, a linear chain of versions', async () => {
      const store = tempDir();
      const log = join(store, 'critical.log');
      writeFileSync(log, '');
      const count = 6;
      const go = join(store, 'go');
      const kids = ['p1', 'p2'].map((id, i) => child({ mode: 'race', store, name: 'm', count, id, log, go, host: hosts?.[i] }));
      for (const k of kids) await k.waitFor('ready');
      writeFileSync(go, '');
      const codes = await Promise.all(kids.map((k) => k.done));
      codes.forEach((c, i) => assert.equal(c, 0, kids[i].err()));
      assert.equal(assertExclusive(log), 2 * count);
      assertLinearChain(store, 'm', 2 * count);
      assert.deepEqual(dotEntries(store, 'm'), [], 'no lock or temporary left');
      const tries = kids.map((k) => k.result().tries as number);
      console.log(`# ${hosts ? 'hosts' : 'processes'}: ${2 * count} publishes, ${tries.reduce((a, b) => a + b) - 2 * count} retries while the other held the lock`);
    });
  }

  test('planted lock files: empty, garbage and a live foreign lease are respected; expired and dead ones are taken over', () => {
    const store = tempDir();
    publishRandom(store, 'm');
    const path = lockPath(store, 'm');
    const old = (Date.now() - 120_000) / 1000;

    // An empty file (an older mtf crashed between create and write): held until it is a lease old.
    writeFileSync(path, '');
    assert.throws(() => publishRandom(store, 'm', { seed: 2 }), (e: Error) => e instanceof LeaseHeldError && e.message.includes(path) && /unreadable lock file \(empty file\), \d+\.\d s old: taken as held until it is 30\.0 s old/.test(e.message));
    assert.equal(readFileSync(path, 'utf8'), '', 'the empty lock is not deleted');
    utimesSync(path, old, old);
    assert.equal(publishRandom(store, 'm', { seed: 2 }).version, 'v000002');
    assert.ok(!existsSync(path));

    // Garbage: an old-style pid lock (the pid of no process).
    writeFileSync(path, '999999999\n');
    assert.throws(() => publishRandom(store, 'm', { seed: 3 }), /unreadable lock file \(not a batchrl-mtf\/lease@1 lease\)/);
    utimesSync(path, old, old);
    assert.equal(publishRandom(store, 'm', { seed: 3 }).version, 'v000003');

    // Another host's live lease: its pid means nothing here (999999999 is no process on this machine).
    writeFileSync(path, lease({ host: 'elsewhere', pid: 999_999_999 }));
    assert.throws(() => publishRandom(store, 'm', { seed: 4 }), (e: Error) => e instanceof LeaseHeldError && /held by pid 999999999 on elsewhere \(publish m\)/.test(e.message));
    // … expired: taken over.
    writeFileSync(path, lease({ host: 'elsewhere', pid: 999_999_999, expires_at: new Date(Date.now() - 1000).toISOString() }));
    assert.equal(publishRandom(store, 'm', { seed: 4 }).version, 'v000004');

    // This host: a live process holds it (our parent) → held; a dead one → taken over at once.
    writeFileSync(path, lease({ pid: process.ppid }));
    assert.throws(() => publishRandom(store, 'm', { seed: 5 }), LeaseHeldError);
    writeFileSync(path, lease({ pid: 999_999_999 }));
    assert.equal(publishRandom(store, 'm', { seed: 5 }).version, 'v000005');
    // … and another lease of this very process is held too (it is alive)
    writeFileSync(path, lease({}));
    assert.throws(() => publishRandom(store, 'm', { seed: 6 }), LeaseHeldError);
    assert.equal(readCurrent(store, 'm'), 'v000005');
  });

  test('a holder killed mid-publish on this host: the next publisher takes over at once', async () => {
    const store = tempDir();
    publishRandom(store, 'm');
    const k = child({ mode: 'hold', store, name: 'm', holdMs: 120_000, ttlMs: 120_000 });
    await k.waitFor('holding');
    assert.throws(() => publishRandom(store, 'm', { seed: 2 }), /held by pid \d+ on /);
    k.proc.kill('SIGKILL');
    await k.done;
    const w = publishRandom(store, 'm', { seed: 2 });
    assert.equal(readCurrent(store, 'm'), w.version);
    assert.ok(!existsSync(lockPath(store, 'm')));
  });

  test('a holder killed mid-publish on another host: held until its lease expires, then taken over', async () => {
    const store = tempDir();
    publishRandom(store, 'm');
    const ttlMs = 4000;
    const k = child({ mode: 'hold', store, name: 'm', holdMs: 120_000, ttlMs, host: 'host-b' });
    const held = await k.waitFor('holding');
    k.proc.kill('SIGKILL');
    await k.done;
    const expires = Date.parse((readLease(lockPath(store, 'm')) as { holder: LeaseHolder }).holder.expires_at);
    if (Date.now() < expires - 500) assert.throws(() => publishRandom(store, 'm', { seed: 2 }), /held by pid \d+ on host-b/, 'a dead pid on another host proves nothing');
    let published: string | null = null;
    while (!published) {
      try {
        published = publishRandom(store, 'm', { seed: 2 }).version;
      } catch (e) {
        if (!(e instanceof LeaseHeldError)) throw e;
        assert.ok(Date.now() < expires + 30_000, 'taken over within the lease');
        await sleep(100);
      }
    }
    assert.ok(Date.now() >= expires, `taken over only after the lease ran out (${Date.now() - held} ms after it was taken)`);
    assert.equal(readCurrent(store, 'm'), published);
    assert.deepEqual(dotEntries(store, 'm'), []);
  });

  test('a holder whose lease expires stops before committing and does not remove the new owner\'s lock', async () => {
    const store = tempDir();
    publishRandom(store, 'm');
    const ttlMs = 1500;
    const k = child({ mode: 'hold', store, name: 'm', holdMs: 4000, ttlMs, host: 'host-b' });
    await k.waitFor('holding');
    const path = lockPath(store, 'm');
    const expires = Date.parse((readLease(path) as { holder: LeaseHolder }).holder.expires_at);
    await sleep(Math.max(0, expires - Date.now()) + 50);
    const mine = acquireFileLease(path, { host: 'host-a' }); // takes over the expired lease, and keeps it
    try {
      assert.match(mine.tookOver ?? '', /lease of pid \d+ on host-b .* expired/);
      assert.equal(await k.done, 2, k.out() + k.err());
      const r = k.result();
      assert.equal(r.error, 'LeaseLostError');
      assert.match(String(r.message), /lease was taken over \(the lock is now pid \d+ on host-a/);
      assert.deepEqual(listVersions(store, 'm'), ['v000001'], 'the late holder renamed nothing into place');
      assert.equal(readCurrent(store, 'm'), 'v000001');
      const now = readLease(path);
      assert.ok(now.kind === 'lease' && now.holder.token === mine.token, 'the new owner\'s lock is still there');
      assert.ok(!readdirSync(join(store, 'm')).some((f) => f.startsWith('.tmp-')), 'its temporary version was removed');
    } finally {
      mine.release();
    }
    assert.ok(!existsSync(path));
  });

  test('release and check: only the owner removes the lock; a holder taken over finds out', async () => {
    const dir = tempDir();
    const path = join(dir, 'lk');
    const a = acquireFileLease(path, { ttlMs: 300, host: 'a' });
    assert.throws(() => acquireFileLease(path, { ttlMs: 300, host: 'b' }), LeaseHeldError);
    await sleep(450);
    const b = acquireFileLease(path, { ttlMs: 10_000, host: 'b' });
    assert.throws(() => a.check(), LeaseLostError);
    assert.equal(a.release(), false, 'not a\'s any more');
    const seen = readLease(path);
    assert.ok(seen.kind === 'lease' && seen.holder.token === b.token);
    b.check();
    assert.equal(b.release(), true);
    assert.ok(!existsSync(path));
    assert.equal(b.release(), false, 'idempotent');
  });

  test('check() renews the lease while it is held; an expired one is not renewed', async () => {
    const dir = tempDir();
    const path = join(dir, 'lk');
    const l = acquireFileLease(path, { ttlMs: 1200, host: 'a' });
    const first = (readLease(path) as { holder: LeaseHolder }).holder.expires_at;
    for (let i = 0; i < 6; i++) {
      await sleep(450); // > ttl/3: each check renews; 2.7 s in all, well past the first expiry
      l.check();
    }
    const last = (readLease(path) as { holder: LeaseHolder }).holder.expires_at;
    assert.ok(Date.parse(last) > Date.parse(first) + 2000, `${first} → ${last}`);
    assert.throws(() => acquireFileLease(path, { host: 'b' }), LeaseHeldError);
    await sleep(1300);
    assert.throws(() => l.check(), /lease ran out/);
    l.release();
  });

  test('take-over is race-free: a lock replaced between judging and removing is put back', () => {
    const dir = tempDir();
    const path = join(dir, 'lk');
    writeFileSync(path, lease({ host: 'dead-host', pid: 1, expires_at: new Date(Date.now() - 1000).toISOString() }));
    const fresh = lease({ host: 'rival', pid: 2, token: 'rival-token' });
    let calls = 0;
    // The clock is read once for the new lease's times, then to judge the one found: in between, a
    // rival takes the stale lock over (as a process scheduled there would).
    const now = () => {
      if (++calls === 2) {
        writeFileSync(path + '.rival', fresh);
        renameSync(path + '.rival', path);
      }
      return Date.now();
    };
    assert.throws(() => acquireFileLease(path, { host: 'me', now }), (e: Error) => e instanceof LeaseHeldError && /held by pid 2 on rival/.test(e.message));
    assert.equal(readFileSync(path, 'utf8'), fresh, 'the rival\'s lock is intact');
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('lk.') || f.startsWith('.lk')), []);
  });

  test('an outer lock that is lost stops the store before it renames anything into place', () => {
    const store = tempDir();
    publishRandom(store, 'm');
    let checks = 0;
    const outer: HeldLock = {
      describe: 'test lock',
      renew: async () => {},
      check: () => {
        if (++checks >= 2) throw new LeaseLostError('test lock: lost');
      },
      release: async () => {},
    };
    assert.throws(() => publishRandom(store, 'm', { seed: 2, held: [outer] }), /test lock: lost/);
    assert.deepEqual(listVersions(store, 'm'), ['v000001']);
    assert.equal(readCurrent(store, 'm'), 'v000001');
    assert.deepEqual(dotEntries(store, 'm'), [], 'the file lease and the temporary are gone');
  });
});
