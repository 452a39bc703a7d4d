/**
 * Where the evaluation's FQE fits run: in this thread, or spread over worker threads so that every core
 * fits (issue 20: "bootstrap refits and policies in parallel via worker threads"). An evaluation is
 * 1 + B fits per policy, each independent once its policy's full-data fit has given the refits their
 * warm start; the workers read the test split and each policy's actions from shared memory (one copy,
 * not one per worker) and return what fitFqe returns. A fit computes the same numbers wherever it runs:
 * its seed, its rows and its backend fix them (test/ope/fitPool.test.ts compares).
 */
import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { FqeConfig } from './config.ts';
import type { FitKey } from './fitRequests.ts';
import type { OpeData } from './data.ts';
import { fitFqe, type FqeFit, type FqeFitOptions } from './fqe.ts';
import type { PolicyActions } from './policies.ts';

/** What a worker needs of one fit (the policy's actions travel once, by key). */
export type FitRequest = Omit<FqeFitOptions, 'onStep' | 'holdout'>;

export interface FitPool {
  /** `at`: which fit of the evaluation this is (a pool of stored results reads it; the others ignore it) */
  fit(acts: PolicyActions, o: FitRequest, at?: FitKey): Promise<FqeFit>;
  /** the actions (and their penalty weights) of a policy whose fits are all done */
  release(acts: PolicyActions): void;
  /**
   * At most this many fits at once (default: every worker) — the evaluation keeps a core for the
   * neighbour search on its own thread while that runs; raising it again starts queued fits at once.
   */
  setMaxActive(n: number): void;
  close(): Promise<void>;
}

/** The fits of this thread, one after another. */
export function inlineFitPool(d: OpeData): FitPool {
  return {
    fit: async (acts, o) => fitFqe(d, acts, o),
    release() {},
    setMaxActive() {},
    close: async () => {},
  };
}

/** The fields of OpeData a fit reads (fqe.ts), as the workers receive them. */
export type FitData = Pick<OpeData, 'n' | 'actionDim' | 'qStateDim' | 'heads' | 'headScale' | 'headBounds' | 'a' | 'mask' | 'notDone' | 'qs' | 'qs2' | 'y'>;

export type WorkerMessage =
  | { type: 'init'; data: FitData; backend: string; threads: number }
  | { type: 'acts'; key: number; samples: number; stochastic: boolean; pi: Float32Array; pi2: Float32Array; weights: Float32Array | null }
  | { type: 'fit'; id: number; key: number; o: Omit<FitRequest, 'penaltyWeights'> & { cfg: FqeConfig } }
  | { type: 'release'; key: number };

export type WorkerReply = { id: number; fit?: FqeFit; error?: string; ready?: string };

/** A copy of x in shared memory (every worker reads it, none copies it). */
function shared<T extends Float32Array | Int32Array | Uint8Array>(x: T): T {
  if (x.buffer instanceof SharedArrayBuffer) return x;
  const Ctor = x.constructor as new (b: SharedArrayBuffer) => T;
  const out = new Ctor(new SharedArrayBuffer(x.byteLength));
  out.set(x as never);
  return out;
}

/**
 * `size` worker threads fitting in parallel. The test split's arrays move into shared memory (d's own
 * fields are replaced by the shared copies, so the split is held once). Each worker starts its own
 * compute backend (`backend`, the one this thread runs) with `threads` BLAS threads.
 */
export async function workerFitPool(d: OpeData, size: number, backend: string, threads: number): Promise<FitPool> {
  // the split's arrays, once, in shared memory
  const same = d.qs === d.s;
  const same2 = d.qs2 === d.s2;
  d.qs = shared(d.qs);
  d.qs2 = shared(d.qs2);
  if (same) d.s = d.qs;
  if (same2) d.s2 = d.qs2;
  d.a = shared(d.a);
  d.mask = shared(d.mask);
  d.notDone = shared(d.notDone);
  d.y = shared(d.y);
  const data: FitData = { n: d.n, actionDim: d.actionDim, qStateDim: d.qStateDim, heads: d.heads, headScale: d.headScale, headBounds: d.headBounds, a: d.a, mask: d.mask, notDone: d.notDone, qs: d.qs, qs2: d.qs2, y: d.y };

  // TypeScript sources (no build step): a worker does not inherit the parent's tsx loader, so a small
  // JavaScript entry registers it first (as bin/mtf.js does)
  const entry = new URL(extname(fileURLToPath(import.meta.url)) === '.ts' ? './fitWorker.boot.mjs' : './fitWorker.js', import.meta.url);

  interface Slot { worker: Worker; busy: boolean }
  const slots: Slot[] = [];
  const pending = new Map<number, { slot: Slot; resolve: (f: FqeFit) => void; reject: (e: Error) => void }>();
  const queue: { acts: PolicyActions; o: FitRequest; resolve: (f: FqeFit) => void; reject: (e: Error) => void }[] = [];
  const keys = new Map<PolicyActions, { key: number; weights: Float32Array | null }>();
  let nextKey = 0;
  let nextId = 0;
  let failed: Error | null = null;

  const fail = (err: Error) => {
    failed ??= err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
    for (const q of queue.splice(0)) q.reject(err);
  };
  let maxActive = size;
  const pump = () => {
    let active = slots.filter((sl) => sl.busy).length;
    for (const slot of slots) {
      if (slot.busy || queue.length === 0 || active >= maxActive) continue;
      active++;
      const job = queue.shift()!;
      const id = nextId++;
      slot.busy = true;
      pending.set(id, { slot, resolve: job.resolve, reject: job.reject });
      const { penaltyWeights: _w, ...rest } = job.o;
      const msg: WorkerMessage = { type: 'fit', id, key: register(job.acts, job.o.penaltyWeights ?? null), o: rest };
      slot.worker.postMessage(msg);
    }
  };
  /** sends a policy's actions to every worker once; a fit names them by key */
  const register = (acts: PolicyActions, weights: Float32Array | null): number => {
    const known = keys.get(acts);
    if (known) {
      if (known.weights !== weights) throw new RangeError('fitPool: one policy\'s fits must share their penalty weights');
      return known.key;
    }
    const key = nextKey++;
    acts.pi = shared(acts.pi);
    acts.pi2 = shared(acts.pi2);
    const w = weights ? shared(weights) : null;
    keys.set(acts, { key, weights });
    const msg: WorkerMessage = { type: 'acts', key, samples: acts.samples, stochastic: acts.stochastic, pi: acts.pi, pi2: acts.pi2, weights: w };
    for (const s of slots) s.worker.postMessage(msg);
    return key;
  };

  const started = Array.from({ length: size }, () => {
    const worker = new Worker(entry);
    const slot: Slot = { worker, busy: true };
    slots.push(slot);
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (m: WorkerReply) => {
        if (m.id === -1) {
          if (m.ready !== undefined) {
            slot.busy = false;
            resolve();
            pump();
          } else reject(new Error(`evaluation worker could not start: ${m.error}`));
          return;
        }
        const p = pending.get(m.id);
        if (!p) return;
        pending.delete(m.id);
        slot.busy = false;
        if (m.fit) p.resolve(m.fit);
        else p.reject(new Error(m.error ?? 'evaluation worker: no fit in its reply'));
        pump();
      });
      worker.on('error', (err) => {
        reject(err);
        fail(err);
      });
      worker.on('exit', (code) => {
        if (code !== 0) fail(new Error(`evaluation worker exited with code ${code}`));
      });
      const init: WorkerMessage = { type: 'init', data, backend, threads };
      worker.postMessage(init);
    });
  });
  const close = async () => {
    fail(new Error('fit pool closed'));
    await Promise.all(slots.map((s) => s.worker.terminate()));
  };
  try {
    await Promise.all(started);
  } catch (err) {
    await close();
    throw err;
  }

  return {
    fit(acts, o) {
      if (failed) return Promise.reject(failed);
      return new Promise<FqeFit>((resolve, reject) => {
        // A full-data fit goes before every queued refit: its own policy's refits wait for its weights
        // (the warm start), so it is on that policy's path, while queued refits have nothing behind them.
        const job = { acts, o, resolve, reject };
        const firstRefit = o.pool ? -1 : queue.findIndex((q) => q.o.pool);
        if (firstRefit >= 0) queue.splice(firstRefit, 0, job);
        else queue.push(job);
        pump();
      });
    },
    setMaxActive(n) {
      maxActive = Math.max(1, Math.min(size, Math.floor(n)));
      pump();
    },
    release(acts) {
      const known = keys.get(acts);
      if (!known) return;
      keys.delete(acts);
      const msg: WorkerMessage = { type: 'release', key: known.key };
      for (const s of slots) s.worker.postMessage(msg);
    },
    close,
  };
}

/**
 * Worker threads for an evaluation: fqe.workers, or with 'auto' one per core (at most one per fit) when
 * the split is large enough to repay a worker's start (~1–2 s: its own tfjs and backend), else none.
 */
export function chooseWorkers(setting: number | 'auto', rows: number, fits: number): number {
  if (setting !== 'auto') return Math.max(1, Math.min(setting, fits));
  if (rows < AUTO_MIN_ROWS) return 1;
  return Math.max(1, Math.min(availableParallelism(), fits));
}

/** Below this many test rows 'auto' fits in the calling thread. */
export const AUTO_MIN_ROWS = 20_000;
