/**
 * Who may publish: one publisher per model name at a time.
 *
 * The store always takes its own lock, a lease on the file `<store>/<name>/.lock` (src/io/lease.ts),
 * inside writeVersion and setCurrent. A caller may hold an outer lock besides — a `PublishLock`, e.g. the
 * Redis lease of the BullMQ path (jobs/lease.ts) — taken first and checked before every step the store
 * cannot take back. The nightly workers hold both, so that a worker and an `mtf export` or `mtf models
 * rollback` run by hand on the same store still exclude each other (those know no Redis); the file
 * lease alone is enough for correctness, the Redis lease adds an expiry judged by one clock (Redis's)
 * instead of every host's.
 *
 * Why the file lease is written here and not taken from proper-lockfile (npm, 4.1.2; the library the
 * project would otherwise prefer, DEVELOPERS): its lock is an empty directory, so a lock says nothing
 * about its owner (no host, pid or token to show an operator or to release by); taking over a stale
 * lock is rmdir + mkdir, which lets two processes that judged the same lock stale both end up holding
 * it (moxystudio/node-proper-lockfile#121, open); release removes the directory by path, so a holder
 * whose lease was taken over deletes the new owner's lock if it releases before its update timer
 * notices; and that notice arrives as an exception thrown from a timer (onCompromised), which cannot
 * fire inside a synchronous writeVersion (lockSync exists, its renewal is that same timer) and gives
 * no way to ask "is it still mine?" right before a rename. Its mtime lease and renewal are what this
 * lease does too, with the content, the race-free take-over, the owner-only release and a synchronous
 * check() added (≈250 lines with comments, tested in test/export/lock.test.ts). Measured with
 * test/export/lockRace.bench.mjs (6 processes start together on a planted stale lock, each takes it
 * once and holds it 300 ms; 2-core VM shared with other work): proper-lockfile 4.1.2 had two holders at
 * once in 10 of 40 rounds (2 of 30 in an earlier run), this lease in 0 of 40.
 */
import type { FileLeaseOptions } from '../io/index.ts';

export interface PublishTarget {
  storeDir: string;
  name: string;
}

/** A lock held on a publish target. */
export interface HeldLock {
  /** what is held, for messages */
  readonly describe: string;
  /** Extends the lease to its full length now (the holder calls it right before a synchronous section). */
  renew(): Promise<void>;
  /**
   * Synchronous, before each step that cannot be taken back: throws a TransientError unless the lock
   * is still this holder's with a safety margin left (judged from local state: no I/O).
   */
  check(): void;
  /** Gives the lock up if it is still this holder's; never removes someone else's. */
  release(): Promise<void>;
}

/** An outer lock for publishing (the BullMQ path: a Redis lease). */
export interface PublishLock {
  /** Takes the lock or throws a TransientError naming its holder. */
  acquire(target: PublishTarget): Promise<HeldLock>;
}

/** How the store's own file lease is taken (defaults: DEFAULT_LEASE_MS, os.hostname()). */
export type StoreLeaseOptions = Pick<FileLeaseOptions, 'ttlMs' | 'host'>;

/**
 * Runs `fn` (synchronous: a store write) while holding `outer`, if given: acquire, renew to a full
 * lease right before `fn`, release after, also when `fn` throws. `fn` receives the held locks to pass
 * to the store, which checks them before each commit step.
 */
export async function withPublishLock<T>(outer: PublishLock | undefined, target: PublishTarget, fn: (held: HeldLock[]) => T): Promise<T> {
  if (!outer) return fn([]);
  const held = await outer.acquire(target);
  try {
    await held.renew();
    return fn([held]);
  } finally {
    await held.release();
  }
}
