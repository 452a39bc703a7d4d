/**
 * Exact k nearest neighbours (squared Euclidean distance) of query rows among reference rows of the same
 * matrix — the search behind the OOD indicator and the support-aware penalty (ood.ts), which at the
 * paper's scale queries every one of ~1M test rows against 5,000 reference rows.
 *
 * Two paths, one answer. `knnBruteForce` sums Σ_c (q_c − r_c)² in float64 for every pair (the
 * reference). `knnGram` first computes every distance of a block of queries through one matrix product,
 * ‖q − r‖² = ‖q‖² + ‖r‖² − 2 q·r with q·r from a float32 GEMM (BLAS: ~50× the scalar loop), keeps the
 * k + slack smallest, and re-ranks the ones that could be among the k nearest with the exact float64
 * distance. The GEMM's rounding error is bounded (|fl(q·r) − q·r| ≤ γ_S ‖q‖‖r‖, γ_S = S·u/(1 − S·u),
 * u = 2⁻²⁴, plus one rounding of the result), so every row whose approximate distance lies within twice
 * that bound of the k-th is re-ranked; when the slack cannot hold them all (many exact duplicates),
 * that query falls back to the exact scan. Both order by (exact distance, position in `ref`), so they
 * return the same neighbours — tested on data with duplicated rows.
 */

/** out = Q · Rᵀ: Q [m × dim], R [nr × dim] row-major, out [≥ m × nr] row-major (float32). */
export type GramFn = (q: Float32Array, m: number, r: Float32Array, nr: number, dim: number, out: Float32Array) => void;

export interface KnnInput {
  /** [rows × dim] */
  x: Float32Array;
  dim: number;
  /** query rows (indices into x) */
  queries: Int32Array;
  /** reference rows (indices into x); a query never counts itself */
  ref: Int32Array;
  k: number;
  /** called every ~5% of the queries with the share done */
  onProgress?: (done: number) => void;
}

/** [queries × k] indices into x, nearest first; −1 where fewer than k reference rows are available. */
export function knnBruteForce(o: KnnInput): Int32Array {
  const { x, dim: S, queries, ref, k } = o;
  const out = new Int32Array(queries.length * k);
  const bestD = new Float64Array(k);
  const bestI = new Int32Array(k);
  const every = Math.max(1, Math.ceil(queries.length / 20));
  for (let q = 0; q < queries.length; q++) {
    const qi = queries[q];
    bestD.fill(Infinity);
    bestI.fill(-1);
    for (const r of ref) {
      if (r === qi) continue;
      let dist = 0;
      for (let c = 0; c < S; c++) {
        const d = x[qi * S + c] - x[r * S + c];
        dist += d * d;
        if (dist >= bestD[k - 1]) break;
      }
      if (dist >= bestD[k - 1]) continue;
      insert(bestD, bestI, k, dist, r);
    }
    out.set(bestI, q * k);
    if (o.onProgress && (q + 1) % every === 0) o.onProgress((q + 1) / queries.length);
  }
  return out;
}

/** Queries per GEMM block: 1024 × 5000 reference rows = 20 MB of distances. */
const BLOCK = 1024;
/** Rows kept beyond k from the approximate distances; more than this within the error bound → exact scan. */
const SLACK = 32;

/**
 * outD/outJ [m × L] = per row of G, the L smallest qn[q] + rn[j] − 2·G[q, j] over j ≠ skip[q], ascending by
 * (distance, j); +∞ / −1 past the count. The native addon's knnSelect does the same in C.
 */
export type SelectFn = (G: Float32Array, m: number, nr: number, qn: Float64Array, rn: Float64Array, skip: Int32Array, L: number, outD: Float64Array, outJ: Int32Array) => void;

export interface KnnKernels {
  gram: GramFn;
  /** the selection step (default: selectJs) */
  select?: SelectFn;
}

/** The same neighbours as knnBruteForce, with the distances of each block of queries from one GEMM. */
export function knnGram(o: KnnInput, kernels: KnnKernels): Int32Array {
  const blocks = knnGramBlocks(o, kernels);
  let r = blocks.next();
  while (!r.done) r = blocks.next();
  return r.value;
}

/**
 * knnGram that hands the event loop back after every block of queries (≈ 40 ms at the paper's scale), so
 * that a long search on this thread lets the evaluation's fit workers be answered and fed meanwhile.
 */
export async function knnGramAsync(o: KnnInput, kernels: KnnKernels): Promise<Int32Array> {
  const blocks = knnGramBlocks(o, kernels);
  let r = blocks.next();
  while (!r.done) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    r = blocks.next();
  }
  return r.value;
}

/** knnGram's work, one block of queries per step. */
function* knnGramBlocks(o: KnnInput, kernels: KnnKernels): Generator<void, Int32Array> {
  const { x, dim: S, queries, ref, k } = o;
  const { gram, select = selectJs } = kernels;
  const nr = ref.length;
  const out = new Int32Array(queries.length * k);
  out.fill(-1);
  if (nr === 0 || queries.length === 0) return out;
  const R = new Float32Array(nr * S);
  const rn = new Float64Array(nr);
  const position = new Map<number, number>();
  let rMax = 0;
  for (let j = 0; j < nr; j++) {
    position.set(ref[j], j);
    let s = 0;
    for (let c = 0; c < S; c++) {
      const v = x[ref[j] * S + c];
      R[j * S + c] = v;
      s += v * v;
    }
    rn[j] = s;
    rMax = Math.max(rMax, Math.sqrt(s));
  }
  // |fl(q·r) − q·r| ≤ γ_S‖q‖‖r‖ plus the rounding of the stored product: a safety factor of 2 on top
  const u = 2 ** -24;
  const gamma = ((S + 1) * u) / (1 - (S + 1) * u);
  const L = Math.min(nr, k + SLACK);
  const Q = new Float32Array(BLOCK * S);
  const G = new Float32Array(BLOCK * nr);
  const qn = new Float64Array(BLOCK);
  const skip = new Int32Array(BLOCK);
  const candD = new Float64Array(BLOCK * L);
  const candJ = new Int32Array(BLOCK * L);
  const exactD = new Float64Array(L);
  const exactJ = new Int32Array(L);
  const one = new Int32Array(1);
  let fallbacks = 0;
  const every = Math.max(1, Math.ceil(queries.length / 20));
  let nextReport = every;
  for (let b0 = 0; b0 < queries.length; b0 += BLOCK) {
    const m = Math.min(BLOCK, queries.length - b0);
    for (let q = 0; q < m; q++) {
      const qi = queries[b0 + q];
      let n2 = 0;
      for (let c = 0; c < S; c++) {
        const v = x[qi * S + c];
        Q[q * S + c] = v;
        n2 += v * v;
      }
      qn[q] = n2;
      skip[q] = position.get(qi) ?? -1;
    }
    gram(Q, m, R, nr, S, G);
    select(G, m, nr, qn, rn, skip, L, candD, candJ);
    for (let q = 0; q < m; q++) {
      const qi = queries[b0 + q];
      const row = (b0 + q) * k;
      const c0 = q * L;
      const kth = Math.min(k, L) - 1;
      let limit = Infinity;
      if (candJ[c0 + kth] >= 0) {
        const eps = 2 * (2 * gamma * Math.sqrt(qn[q]) * rMax + u * (qn[q] + rMax * rMax));
        limit = candD[c0 + kth] + 2 * eps;
        if (L < nr && candD[c0 + L - 1] <= limit) {
          // more rows than the slack holds could be among the k nearest: the exact scan decides
          fallbacks++;
          one[0] = qi;
          out.set(knnBruteForce({ x, dim: S, queries: one, ref, k }), row);
          continue;
        }
      } // else fewer reference rows than k: every one is a neighbour, in exact order
      let c = 0;
      while (c < L && candJ[c0 + c] >= 0 && candD[c0 + c] <= limit) c++;
      const ranked = Math.min(k, rankExact(x, S, qi, ref, candJ.subarray(c0, c0 + c), exactD, exactJ));
      for (let i = 0; i < ranked; i++) out[row + i] = ref[exactJ[i]];
    }
    if (o.onProgress && b0 + m >= nextReport) {
      o.onProgress((b0 + m) / queries.length);
      nextReport = b0 + m + every;
    }
    yield;
  }
  knnGram.lastFallbacks = fallbacks;
  return out;
}
/** Queries of the last knnGram call that fell back to the exact scan (for the tests and the benchmark). */
knnGram.lastFallbacks = 0;

/** The candidates (positions into ref) by (exact float64 distance, position), ascending, into exactJ; returns their count. */
function rankExact(x: Float32Array, S: number, qi: number, ref: Int32Array, cand: Int32Array, exactD: Float64Array, exactJ: Int32Array): number {
  const n = cand.length;
  for (let i = 0; i < n; i++) {
    const j = cand[i];
    const r = ref[j];
    let dist = 0;
    for (let t = 0; t < S; t++) {
      const d = x[qi * S + t] - x[r * S + t];
      dist += d * d;
    }
    // insertion sort: the candidates arrive almost in order
    let p = i;
    while (p > 0 && (exactD[p - 1] > dist || (exactD[p - 1] === dist && exactJ[p - 1] > j))) {
      exactD[p] = exactD[p - 1];
      exactJ[p] = exactJ[p - 1];
      p--;
    }
    exactD[p] = dist;
    exactJ[p] = j;
  }
  return n;
}

/**
 * SelectFn in JavaScript (the reference of the native knnSelect): the sorted insertion of the scalar scan,
 * scanning j upwards, so that equal distances keep the smaller j first and a tie with the L-th is left out.
 */
export const selectJs: SelectFn = (G, m, nr, qn, rn, skip, L, outD, outJ) => {
  for (let q = 0; q < m; q++) {
    const d = outD.subarray(q * L, (q + 1) * L).fill(Infinity);
    const j = outJ.subarray(q * L, (q + 1) * L).fill(-1);
    for (let r = 0; r < nr; r++) {
      const dist = qn[q] + rn[r] - 2 * G[q * nr + r];
      if (dist >= d[L - 1] || r === skip[q]) continue;
      insert(d, j, L, dist, r);
    }
  }
};

/** Inserts (dist, id) into the ascending list, after equal distances (the earlier row wins a tie). */
function insert(bestD: Float64Array, bestI: Int32Array, k: number, dist: number, id: number): void {
  let p = k - 1;
  while (p > 0 && bestD[p - 1] > dist) {
    bestD[p] = bestD[p - 1];
    bestI[p] = bestI[p - 1];
    p--;
  }
  bestD[p] = dist;
  bestI[p] = id;
}
