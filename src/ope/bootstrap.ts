/**
 * The session bootstrap: a resample draws N of the N sessions with replacement (full size — a smaller
 * resample overstates the spread, about twofold for a quarter of the data), and every estimate is
 * recomputed on it, FQE by a full refit. Sessions, not rows, are the unit: rows of one session share a
 * user and are far from independent.
 *
 * Resample b depends only on (seed, b), so every policy sees the same resamples and differences
 * between policies get paired intervals.
 */
import type { OpeData } from './data.ts';
import { Rng } from './rl.ts';

const Z95 = 1.959963984540054;

/** The seed of resample b (b = 1…B; 0 is the full data). */
export function resampleSeed(seed: number, b: number): number {
  let x = (seed ^ Math.imul(b, 0x9e3779b1)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  return (x ^ (x >>> 13)) >>> 0;
}

/** How often each of `sessions` sessions is drawn in a full-size resample (Σ = sessions). */
export function resampleCounts(sessions: number, rng: Rng): Int32Array {
  const c = new Int32Array(sessions);
  for (let i = 0; i < sessions; i++) c[rng.int(sessions)]++;
  return c;
}

/** The rows FQE samples from and the initial states of a resample: each session `count` times. */
export function resampleRows(d: Pick<OpeData, 'sessions' | 'ptr' | 'order'>, counts: Int32Array): { pool: Int32Array; starts: Int32Array } {
  let rows = 0;
  let starts = 0;
  for (let j = 0; j < d.sessions; j++) {
    const len = d.ptr[j + 1] - d.ptr[j];
    rows += counts[j] * len;
    if (len > 0) starts += counts[j];
  }
  const pool = new Int32Array(rows);
  const s = new Int32Array(starts);
  let p = 0;
  let q = 0;
  for (let j = 0; j < d.sessions; j++) {
    const seg = d.order.subarray(d.ptr[j], d.ptr[j + 1]);
    for (let c = 0; c < counts[j]; c++) {
      pool.set(seg, p);
      p += seg.length;
      if (seg.length) s[q++] = seg[0];
    }
  }
  return { pool, starts: s };
}

/** At most n of the initial states, drawn without replacement (Eq. 10's n initial states). */
export function chooseStarts(starts: Int32Array, n: number, rng: Rng): Int32Array {
  if (starts.length <= n) return starts;
  const a = Int32Array.from(starts);
  for (let i = 0; i < n; i++) {
    const j = i + rng.int(a.length - i);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a.slice(0, n);
}

/** Linear-interpolation quantile (R type 7) of unsorted values. */
export function quantile(values: ArrayLike<number>, q: number): number {
  return quantiles(values, [q])[0];
}

/** Several quantiles (linear interpolation) from one sort: at the paper's scale each sort is ~1M values. */
export function quantiles(values: ArrayLike<number>, qs: readonly number[]): number[] {
  const x = Float64Array.from(values).sort();
  return qs.map((q) => {
    if (x.length === 0) return NaN;
    const h = (x.length - 1) * q;
    const lo = Math.floor(h);
    const hi = Math.min(lo + 1, x.length - 1);
    return x[lo] + (h - lo) * (x[hi] - x[lo]);
  });
}

export function mean(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s / x.length;
}

/** Sample standard deviation (n − 1). */
export function sd(x: ArrayLike<number>): number {
  const m = mean(x);
  let v = 0;
  for (let i = 0; i < x.length; i++) v += (x[i] - m) ** 2;
  return x.length > 1 ? Math.sqrt(v / (x.length - 1)) : NaN;
}

export interface Interval {
  /** the bootstrap standard error: sd of the replicates */
  se: number;
  /** normal interval point ± 1.96·se (the reported ci95) */
  ci95: [number, number];
  /** 2.5% and 97.5% quantiles of the replicates (for reference; coarse with few resamples) */
  percentile95: [number, number];
}

/**
 * The reported interval is the normal bootstrap interval around the full-data estimate: with the
 * 20-odd refits FQE can afford, the replicates' sd is a stable quantity, their 2.5% / 97.5% quantiles
 * are not (they are nearly the extremes).
 */
export function bootstrapInterval(point: number, replicates: ArrayLike<number>): Interval {
  const se = sd(replicates);
  return { se, ci95: [point - Z95 * se, point + Z95 * se], percentile95: [quantile(replicates, 0.025), quantile(replicates, 0.975)] };
}

/** Mean and normal-approximation 95% interval over independent units (sessions). */
export function meanInterval(x: ArrayLike<number>): { mean: number; ci95: [number, number] } {
  const m = mean(x);
  const se = sd(x) / Math.sqrt(x.length);
  return { mean: m, ci95: [m - Z95 * se, m + Z95 * se] };
}

/**
 * Resample i of the evaluation (0-based; seed resampleSeed(seed, i + 1)): how often each session is
 * drawn, the rows FQE samples from and its initial states. A function of (d's sessions, seed, i) alone,
 * so an evaluation drawing all B of them and a fit job drawing its one get the same rows.
 */
export function drawResample(d: Pick<OpeData, 'sessions' | 'ptr' | 'order'>, seed: number, i: number, initialStates: number): { counts: Int32Array; pool: Int32Array; starts: Int32Array } {
  const r = new Rng(resampleSeed(seed, i + 1));
  const counts = resampleCounts(d.sessions, r);
  const rows = resampleRows(d, counts);
  return { counts, pool: rows.pool, starts: chooseStarts(rows.starts, initialStates, r) };
}
