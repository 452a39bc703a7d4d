/**
 * A lease on a file: mutual exclusion between processes, and between machines on a shared file
 * system, that survives its holder being killed. Used for the model store's publish lock
 * (src/export/lock.ts; why hand-written rather than proper-lockfile: models/README.md and there).
 *
 * The lock file is complete the moment it exists (createFileExclusive: temp + fsync + link) and says
 * who holds it and until when:
 *
 *   {"format":"batchrl-mtf/lease@1","host":"…","pidns":"pid:[…]","pid":…,"token":"<random>","purpose":"…",
 *    "acquired_at":"…","renewed_at":"…","expires_at":"…"}
 *
 * A lock is stale, and may be taken over, when its lease has expired (the holder's `expires_at`, read
 * against this machine's clock: hosts must keep their clocks within a small part of the lease, which NTP
 * does), or at once when its holder ran on this machine (same host name and pid namespace) and that
 * process is gone. A live process on another host is never probed (its pid means nothing here). A lock
 * file that cannot be read (empty or garbage: only a crash of an older version, or a hand, makes one)
 * is taken as held until its mtime is a lease old, then taken over — never silently deleted at once.
 *
 * Take-over is race-free: the stale file is renamed to a unique name and only deleted if what was
 * renamed is the very file judged stale (same inode, same bytes); otherwise it is linked back. The
 * holder renews by rewriting its file (temp + rename) while its lease runs, and checks — `check()` —
 * that the file still carries its token before every step it cannot take back; release removes the
 * file only if it still carries the token. What a file lock cannot give is a fencing token: between
 * a holder's last check and its next system call a rival could take over only if the holder's lease
 * ran out in those microseconds, which the safety margin of `check()` rules out short of clock jumps.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, linkSync, openSync, readFileSync, readlinkSync, renameSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { TransientError } from '../errors/index.ts';
import { createFileExclusive, writeFileSynced } from './atomic.ts';

export const LEASE_FORMAT = 'batchrl-mtf/lease@1';
/** Default lease length: how long a holder killed on another machine blocks the next one. */
export const DEFAULT_LEASE_MS = 30_000;

export interface LeaseHolder {
  format: string;
  host: string;
  /** the holder's pid namespace (Linux): two containers with one host name are two machines */
  pidns: string | null;
  pid: number;
  token: string;
  purpose: string;
  acquired_at: string;
  renewed_at: string;
  expires_at: string;
}

export interface FileLeaseOptions {
  /** lease length in ms (default DEFAULT_LEASE_MS); the holder renews it while it works */
  ttlMs?: number;
  /** this machine's name (default os.hostname()); tests simulate a second machine with it */
  host?: string;
  /** what the lease is for, shown to whoever finds it held ("publish feed") */
  purpose?: string;
  /** clock in ms (tests) */
  now?: () => number;
}

/** The lock is held by someone else (retry later). */
export class LeaseHeldError extends TransientError {
  constructor(
    message: string,
    readonly path: string,
    readonly holder: LeaseHolder | null,
  ) {
    super(message);
    this.name = 'LeaseHeldError';
  }
}

/** This holder's lease expired or was taken over: it must not commit anything more. */
export class LeaseLostError extends TransientError {
  constructor(message: string) {
    super(message);
    this.name = 'LeaseLostError';
  }
}

export type SeenLease =
  | { kind: 'none' }
  | { kind: 'lease'; holder: LeaseHolder; raw: Buffer; ino: number; mtimeMs: number }
  | { kind: 'unreadable'; reason: string; raw: Buffer; ino: number; mtimeMs: number };

/** What is at `path` now. */
export function readLease(path: string): SeenLease {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    throw err;
  }
  let raw: Buffer;
  let st;
  try {
    st = fstatSync(fd); // inode and bytes of one and the same file, even if it is replaced meanwhile
    raw = readFileSync(fd);
  } finally {
    closeSync(fd);
  }
  const at = { raw, ino: st.ino, mtimeMs: st.mtimeMs };
  if (raw.length === 0) return { kind: 'unreadable', reason: 'empty file', ...at };
  let h: Partial<LeaseHolder>;
  try {
    h = JSON.parse(raw.toString('utf8')) as Partial<LeaseHolder>;
  } catch {
    return { kind: 'unreadable', reason: `not JSON: ${JSON.stringify(raw.subarray(0, 40).toString('utf8'))}`, ...at };
  }
  const ok =
    h !== null && typeof h === 'object' && h.format === LEASE_FORMAT && typeof h.host === 'string' && Number.isInteger(h.pid) && typeof h.token === 'string' && h.token.length > 0 && Number.isFinite(Date.parse(String(h.expires_at)));
  if (!ok) return { kind: 'unreadable', reason: `not a ${LEASE_FORMAT} lease`, ...at };
  return { kind: 'lease', holder: { pidns: null, purpose: '', ...h } as LeaseHolder, ...at };
}

let ownPidns: string | null | undefined;
function pidNamespace(): string | null {
  if (ownPidns === undefined) {
    try {
      ownPidns = readlinkSync('/proc/self/ns/pid');
    } catch {
      ownPidns = null;
    }
  }
  return ownPidns;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const iso = (ms: number) => new Date(ms).toISOString();
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function describe(h: LeaseHolder): string {
  return `pid ${h.pid} on ${h.host}${h.purpose ? ` (${h.purpose})` : ''} since ${h.acquired_at}, lease until ${h.expires_at}`;
}

type Verdict = { stale: boolean; why: string };

function judge(path: string, seen: Exclude<SeenLease, { kind: 'none' }>, me: { host: string; pidns: string | null }, now: number, ttlMs: number): Verdict {
  if (seen.kind === 'unreadable') {
    const age = now - seen.mtimeMs;
    if (age >= ttlMs) return { stale: true, why: `unreadable lock file (${seen.reason}) ${secs(age)} old` };
    return {
      stale: false,
      why: `${path}: unreadable lock file (${seen.reason}), ${secs(age)} old: taken as held until it is ${secs(ttlMs)} old (a crash of an older mtf leaves one); remove it by hand if no publish is running`,
    };
  }
  const h = seen.holder;
  const expires = Date.parse(h.expires_at);
  if (now >= expires) return { stale: true, why: `lease of ${describe(h)} expired ${secs(now - expires)} ago` };
  const sameMachine = h.host === me.host && (h.pidns ?? null) === me.pidns;
  if (sameMachine && !alive(h.pid)) return { stale: true, why: `process ${h.pid} of ${describe(h)} is gone` };
  return { stale: false, why: `${path}: held by ${describe(h)}; retry when it is done` };
}

/**
 * Removes the lock file judged stale, unless it changed since it was judged. Returns whether the
 * judged file is gone (removed here or by someone else).
 */
function removeIfUnchanged(path: string, seen: Exclude<SeenLease, { kind: 'none' }>): boolean {
  const grave = join(dirname(path), `${basename(path)}.stale-${randomBytes(6).toString('hex')}`);
  try {
    renameSync(path, grave);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw err;
  }
  let same = false;
  try {
    same = statSync(grave).ino === seen.ino && readFileSync(grave).equals(seen.raw);
  } catch {
    same = false;
  }
  if (!same) {
    // A rival replaced it between our read and our rename: give it back. If yet another lock appeared
    // meanwhile, the one moved here is lost — its holder finds that out at its next check().
    try {
      linkSync(grave, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  rmSync(grave, { force: true });
  return same;
}

export class FileLease {
  private expiresAt: number;
  private renewedAt: number;
  private released = false;
  /** how the lock was found, when this lease took over a stale one (for a log line) */
  tookOver: string | null = null;

  constructor(
    readonly path: string,
    private holder: LeaseHolder,
    readonly ttlMs: number,
    private readonly now: () => number,
  ) {
    this.expiresAt = Date.parse(holder.expires_at);
    this.renewedAt = Date.parse(holder.renewed_at);
  }

  get token(): string {
    return this.holder.token;
  }

  /** the margin a lease must still have for the next step to start: a quarter of it, at most 5 s */
  get safetyMs(): number {
    return Math.min(this.ttlMs / 4, 5000);
  }

  /**
   * Before a step that cannot be taken back: throws LeaseLostError unless the lock file still carries
   * this lease's token and the lease has its safety margin left; renews the lease when a third of it
   * has passed since the last renewal.
   */
  check(): void {
    if (this.released) throw new LeaseLostError(`${this.path}: the lease was released already`);
    const seen = readLease(this.path);
    if (seen.kind !== 'lease' || seen.holder.token !== this.holder.token) {
      const now = seen.kind === 'lease' ? describe(seen.holder) : seen.kind === 'none' ? 'no lock file' : `an unreadable lock file (${seen.reason})`;
      throw new LeaseLostError(`${this.path}: this publisher's lease was taken over (the lock is now ${now}); it stops before committing anything more`);
    }
    const t = this.now();
    if (t >= this.expiresAt - this.safetyMs) {
      throw new LeaseLostError(`${this.path}: this publisher's lease ran out (it expires ${iso(this.expiresAt)}, a step took longer than the ${secs(this.ttlMs)} lease); another publisher may take over, so it stops here`);
    }
    if (t - this.renewedAt >= this.ttlMs / 3) this.renew(t);
  }

  private renew(t: number): void {
    const next: LeaseHolder = { ...this.holder, renewed_at: iso(t), expires_at: iso(t + this.ttlMs) };
    const tmp = join(dirname(this.path), `${basename(this.path)}.renew-${randomBytes(4).toString('hex')}`);
    try {
      writeFileSynced(tmp, Buffer.from(JSON.stringify(next) + '\n'));
      renameSync(tmp, this.path);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
    this.holder = next;
    this.renewedAt = t;
    this.expiresAt = t + this.ttlMs;
  }

  /** Removes the lock file if it is still this lease's; returns whether it was. Idempotent. */
  release(): boolean {
    if (this.released) return false;
    this.released = true;
    const seen = readLease(this.path);
    if (seen.kind !== 'lease' || seen.holder.token !== this.holder.token) return false;
    return removeIfUnchanged(this.path, seen);
  }
}

/**
 * Takes the lease at `path` or throws LeaseHeldError naming its holder. A stale lock (see the file's
 * comment) is taken over.
 */
export function acquireFileLease(path: string, opts: FileLeaseOptions = {}): FileLease {
  const ttlMs = opts.ttlMs ?? DEFAULT_LEASE_MS;
  if (!Number.isFinite(ttlMs) || ttlMs < 100) throw new RangeError(`lease ttlMs must be a number ≥ 100, got ${ttlMs}`);
  const now = opts.now ?? Date.now;
  const me = { host: opts.host ?? hostname(), pidns: pidNamespace() };
  let tookOver: string | null = null;
  for (let attempt = 0; attempt < 5; attempt++) {
    const t = now();
    const holder: LeaseHolder = {
      format: LEASE_FORMAT,
      host: me.host,
      pidns: me.pidns,
      pid: process.pid,
      token: randomBytes(16).toString('hex'),
      purpose: opts.purpose ?? '',
      acquired_at: iso(t),
      renewed_at: iso(t),
      expires_at: iso(t + ttlMs),
    };
    if (createFileExclusive(path, JSON.stringify(holder) + '\n')) {
      const lease = new FileLease(path, holder, ttlMs, now);
      lease.tookOver = tookOver;
      return lease;
    }
    const seen = readLease(path);
    if (seen.kind === 'none') continue; // released meanwhile
    const v = judge(path, seen, me, now(), ttlMs);
    if (!v.stale) throw new LeaseHeldError(v.why, path, seen.kind === 'lease' ? seen.holder : null);
    if (removeIfUnchanged(path, seen)) tookOver = v.why;
  }
  throw new LeaseHeldError(`${path}: not taken after 5 tries (other publishers keep taking it); retry`, path, null);
}
