/**
 * Out-of-distribution indicator and action distributions.
 *
 * OOD: for a sample of logged states, the k nearest logged states (standardised Euclidean distance)
 * and their logged actions form "what the data shows at similar states". A policy's action is far when
 * its distance (normalised action units) to the nearest of those actions exceeds a threshold calibrated
 * on the logged actions themselves: the `quantile` of each logged action's distance to its neighbours'
 * actions (leave-one-out). So the logged policy scores 1 − quantile by construction, and a policy
 * inside the logged support scores about the same.
 */
import type { OpeData } from './data.ts';
import { Rng } from './rl.ts';
import { quantile, quantiles } from './bootstrap.ts';
import { knnBruteForce, knnGram, knnGramAsync, type KnnKernels } from './neighbours.ts';

export interface Neighbourhoods {
  /** the query rows */
  queries: Int32Array;
  /** [queries × k] row indices of the nearest logged rows (the query row excluded) */
  neighbours: Int32Array;
  k: number;
  /** far ⇔ distance to the nearest neighbour action > threshold (normalised action units) */
  threshold: number;
  quantile: number;
}

export interface OodOptions {
  states: number;
  neighbours: number;
  reference: number;
  quantile: number;
  seed: number;
  /** native GEMM + selection (src/ope/gram.ts nativeKnn): the same neighbours, many times faster than the scalar scan */
  knn?: KnnKernels | null;
  /** the share of queries searched, every ~5% */
  onProgress?: (done: number) => void;
}

type NeighbourData = Pick<OpeData, 'n' | 'stateDim' | 'actionDim' | 's' | 'a'>;

/** Query rows, their neighbours among up to `reference` logged rows, and the calibrated threshold. */
export function buildNeighbourhoods(d: NeighbourData, o: OodOptions): Neighbourhoods {
  const { input, finish } = neighbourQueries(d, o);
  return finish(o.knn ? knnGram(input, o.knn) : knnBruteForce(input));
}

/** buildNeighbourhoods, yielding to the event loop between blocks of the native search (the same neighbourhoods). */
export async function buildNeighbourhoodsAsync(d: NeighbourData, o: OodOptions): Promise<Neighbourhoods> {
  const { input, finish } = neighbourQueries(d, o);
  return finish(o.knn ? await knnGramAsync(input, o.knn) : knnBruteForce(input));
}

function neighbourQueries(d: NeighbourData, o: OodOptions) {
  const rng = new Rng(o.seed ^ 0x00d00d);
  const sample = (m: number) => {
    if (m >= d.n) return Int32Array.from({ length: d.n }, (_, i) => i);
    const a = Int32Array.from({ length: d.n }, (_, i) => i);
    for (let i = 0; i < m; i++) {
      const j = i + rng.int(d.n - i);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a.slice(0, m).sort();
  };
  const ref = sample(o.reference);
  const queries = sample(o.states);
  const k = Math.max(1, Math.min(o.neighbours, ref.length - 1));
  const input = { x: d.s, dim: d.stateDim, queries, ref, k, onProgress: o.onProgress };
  const finish = (neighbours: Int32Array): Neighbourhoods => {
    const nb: Neighbourhoods = { queries, neighbours, k, threshold: 0, quantile: o.quantile };
    nb.threshold = quantile(nearestActionDistance(d, nb, d.a), o.quantile);
    return nb;
  };
  return { input, finish };
}

/** For each query: distance from its action in `actions` (normalised, [samples × n × A], draw `sample`) to the nearest neighbour action. */
export function nearestActionDistance(d: Pick<OpeData, 'n' | 'actionDim' | 'a'>, nb: Neighbourhoods, actions: Float32Array, sample = 0): Float64Array {
  const A = d.actionDim;
  const out = new Float64Array(nb.queries.length);
  const off = sample * d.n * A;
  for (let q = 0; q < nb.queries.length; q++) {
    const qi = nb.queries[q];
    let best = Infinity;
    for (let m = 0; m < nb.k; m++) {
      const r = nb.neighbours[q * nb.k + m];
      if (r < 0) continue;
      let dist = 0;
      for (let c = 0; c < A; c++) {
        const x = actions[off + qi * A + c] - d.a[r * A + c];
        dist += x * x;
      }
      if (dist < best) best = dist;
    }
    out[q] = Math.sqrt(best);
  }
  return out;
}

/**
 * Per-row weights of the CQL penalty (fqe.penaltySupport 'nearest'): w = clamp((d/t − lo)/(hi − lo), 0, 1)
 * with d the distance of π_e(s_i) to the nearest logged action of row i's neighbour states and t the
 * calibrated threshold of `nb` (whose queries must be every row 0 … n−1). So an action as close to the
 * data as the logged actions themselves (d ≤ lo·t) is not penalised, one ≥ hi·t away fully.
 * Returns [samples × n] (draw k of row i at k·n + i).
 */
export function supportWeights(
  d: Pick<OpeData, 'n' | 'actionDim' | 'a'>,
  nb: Neighbourhoods,
  actions: Float32Array,
  samples: number,
  ramp: readonly [number, number],
  /** the least weight (fqe.supportFloor): w = floor + (1 − floor)·ramp */
  floor = 0,
): Float32Array {
  if (nb.queries.length !== d.n || nb.queries.some((q, i) => q !== i)) throw new RangeError('supportWeights: the neighbourhoods must query every row in order');
  const [lo, hi] = ramp;
  if (!(hi > lo)) throw new RangeError('supportWeights: ramp needs hi > lo');
  const t = nb.threshold > 0 ? nb.threshold : Number.MIN_VALUE;
  const w = new Float32Array(samples * d.n);
  for (let k = 0; k < samples; k++) {
    const dist = nearestActionDistance(d, nb, actions, k);
    for (let i = 0; i < d.n; i++) w[k * d.n + i] = floor + (1 - floor) * Math.min(1, Math.max(0, (dist[i] / t - lo) / (hi - lo)));
  }
  return w;
}

export interface OodSummary {
  /** share of query states whose action is far from every neighbour action */
  share: number;
  threshold: number;
  distance_p50: number;
  distance_p95: number;
  states: number;
  neighbours: number;
}

export function oodSummary(d: Pick<OpeData, 'n' | 'actionDim' | 'a'>, nb: Neighbourhoods, actions: Float32Array): OodSummary {
  const dist = nearestActionDistance(d, nb, actions);
  let far = 0;
  for (const x of dist) if (x > nb.threshold) far++;
  const [p50, p95] = quantiles(dist, [0.5, 0.95]);
  return {
    share: dist.length ? far / dist.length : 0,
    threshold: nb.threshold,
    distance_p50: p50,
    distance_p95: p95,
    states: dist.length,
    neighbours: nb.k,
  };
}

// ---------------------------------------------------------------------------------------------------
// action distributions (the paper's Fig. 6/7)

export interface ActionSummary {
  mean: number[];
  std: number[];
  p5: number[];
  p50: number[];
  p95: number[];
  /** per dim: share of rows in each bin of the shared edges */
  histogram: number[][];
}

/** Shared bin edges per dim over every action set given (logged units), so histograms compare. */
export function histogramEdges(sets: Float32Array[], A: number, bins: number): number[][] {
  const edges: number[][] = [];
  const total = sets.reduce((n, x) => n + x.length / A, 0);
  const all = new Float64Array(total);
  for (let j = 0; j < A; j++) {
    let at = 0;
    for (const x of sets) for (let i = j; i < x.length; i += A) all[at++] = x[i];
    let [lo, hi] = quantiles(all, [0.001, 0.999]);
    if (!(hi > lo)) [lo, hi] = [lo - 0.5, hi + 0.5];
    edges.push(Array.from({ length: bins + 1 }, (_, b) => lo + ((hi - lo) * b) / bins));
  }
  return edges;
}

/** Mean, std, quantiles and histogram (values outside the edges go to the end bins) per action dim. */
export function summarizeActions(x: Float32Array, A: number, edges: number[][]): ActionSummary {
  const n = x.length / A;
  const s: ActionSummary = { mean: [], std: [], p5: [], p50: [], p95: [], histogram: [] };
  for (let j = 0; j < A; j++) {
    const col = new Float64Array(n);
    for (let i = 0; i < n; i++) col[i] = x[i * A + j];
    let m = 0;
    for (const v of col) m += v / n;
    let v2 = 0;
    for (const v of col) v2 += (v - m) ** 2 / n;
    s.mean.push(m);
    s.std.push(Math.sqrt(v2));
    const [p5, p50, p95] = quantiles(col, [0.05, 0.5, 0.95]);
    s.p5.push(p5);
    s.p50.push(p50);
    s.p95.push(p95);
    const e = edges[j];
    const bins = e.length - 1;
    const h = new Array<number>(bins).fill(0);
    const w = (e[bins] - e[0]) / bins;
    for (const v of col) h[Math.min(bins - 1, Math.max(0, Math.floor((v - e[0]) / w)))] += 1 / n;
    s.histogram.push(h);
  }
  return s;
}
