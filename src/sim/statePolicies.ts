/**
 * Fusion policies that read only the logged state — what a serving stack can run — used to measure
 * how much a personalised α can gain over the tuned constant in this world (README §4, headroom):
 *
 * - segmentPolicy: the user's profile (the first PROFILE_DIM state features, constant over a session)
 *   standardised and assigned to the nearest of a few centroids (k-means on logged profiles), one
 *   constant α per segment — what a team with per-segment Bayesian optimisation would run;
 * - linearStatePolicy: log-ratios of α linear in the standardised state, α_i ∝ exp(w_i·φ(s) + b_i)
 *   with the last task as the reference (α_k ∝ 1) — the paper's ES baseline: "a simple network whose
 *   inputs are user state and outputs are personalized fusion weights", searched by an evolution strategy.
 *
 * Both scale α to a fixed sum (Eq. 1's ranking depends on the ratios only).
 */
import { NUM_TASKS } from './config.ts';
import { PROFILE_DIM } from './features.ts';
import type { FusionPolicy } from './policy.ts';
import { Rng } from './rng.ts';

const K = NUM_TASKS;

/** Per-feature mean and standard deviation for standardisation (std 0 → 1). */
export interface Standardizer {
  mean: number[];
  std: number[];
}

export function standardizer(rows: Float32Array | Float64Array, n: number, d: number): Standardizer {
  const mean = new Array<number>(d).fill(0);
  const sq = new Array<number>(d).fill(0);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += rows[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) sq[j] += (rows[i * d + j] - mean[j]) ** 2;
  return { mean, std: sq.map((s) => Math.sqrt(s / Math.max(1, n - 1)) || 1) };
}

/**
 * k-means (Lloyd's iterations from a k-means++ start, seeded) on n points of dimension d; returns the
 * centroids [k × d] and each point's cluster.
 */
export function kMeans(points: Float64Array, n: number, d: number, k: number, seed = 0, iterations = 100): { centroids: number[][]; assignment: Int32Array } {
  if (n < k) throw new RangeError(`kMeans: ${n} points for ${k} clusters`);
  const rng = new Rng(seed);
  const dist2 = (i: number, c: number[]) => {
    let s = 0;
    for (let j = 0; j < d; j++) s += (points[i * d + j] - c[j]) ** 2;
    return s;
  };
  const first = rng.int(n);
  const centroids: number[][] = [Array.from(points.subarray(first * d, (first + 1) * d))];
  const nearest = new Float64Array(n).fill(Infinity);
  while (centroids.length < k) {
    const last = centroids[centroids.length - 1];
    let total = 0;
    for (let i = 0; i < n; i++) {
      nearest[i] = Math.min(nearest[i], dist2(i, last));
      total += nearest[i];
    }
    let u = rng.uniform() * total;
    let pick = n - 1;
    for (let i = 0; i < n; i++) {
      u -= nearest[i];
      if (u <= 0) {
        pick = i;
        break;
      }
    }
    centroids.push(Array.from(points.subarray(pick * d, (pick + 1) * d)));
  }
  const assignment = new Int32Array(n);
  for (let it = 0; it < iterations; it++) {
    let moved = 0;
    for (let i = 0; i < n; i++) {
      let best = 0;
      let bestD = Infinity;
      for (let c = 0; c < k; c++) {
        const dc = dist2(i, centroids[c]);
        if (dc < bestD) {
          bestD = dc;
          best = c;
        }
      }
      if (assignment[i] !== best || it === 0) moved++;
      assignment[i] = best;
    }
    const sums = Array.from({ length: k }, () => new Array<number>(d).fill(0));
    const counts = new Array<number>(k).fill(0);
    for (let i = 0; i < n; i++) {
      counts[assignment[i]]++;
      for (let j = 0; j < d; j++) sums[assignment[i]][j] += points[i * d + j];
    }
    for (let c = 0; c < k; c++) if (counts[c] > 0) centroids[c] = sums[c].map((s) => s / counts[c]);
    if (moved === 0) break;
  }
  return { centroids, assignment };
}

function scaleTo(out: Float32Array, o: number, logits: ArrayLike<number>, scale: number): void {
  let m = 0;
  for (let t = 0; t < K - 1; t++) m = Math.max(m, logits[t]);
  let s = Math.exp(-m);
  const e = new Array<number>(K);
  for (let t = 0; t < K - 1; t++) s += e[t] = Math.exp(logits[t] - m);
  e[K - 1] = Math.exp(-m);
  for (let t = 0; t < K; t++) out[o + t] = (scale * e[t]) / s;
}

export interface SegmentPolicySpec {
  /** standardisation of the profile features (PROFILE_DIM values each) */
  profile: Standardizer;
  /** k centroids in standardised profile space */
  centroids: number[][];
  /** one α per segment */
  alpha: number[][];
}

/** Which segment a profile (the first PROFILE_DIM values of a state row) belongs to. */
export function segmentOf(spec: SegmentPolicySpec, states: ArrayLike<number>, offset: number): number {
  let best = 0;
  let bestD = Infinity;
  for (let c = 0; c < spec.centroids.length; c++) {
    let s = 0;
    for (let j = 0; j < PROFILE_DIM; j++) s += ((states[offset + j] - spec.profile.mean[j]) / spec.profile.std[j] - spec.centroids[c][j]) ** 2;
    if (s < bestD) {
      bestD = s;
      best = c;
    }
  }
  return best;
}

export function segmentPolicy(spec: SegmentPolicySpec, id = 'segments'): FusionPolicy {
  if (spec.centroids.length !== spec.alpha.length) throw new RangeError(`segmentPolicy: ${spec.centroids.length} centroids, ${spec.alpha.length} α`);
  for (const a of spec.alpha) if (a.length !== K) throw new RangeError(`segmentPolicy: an α has ${a.length} weights, expected ${K}`);
  let buf = new Float32Array(0);
  return {
    id,
    act(states, n) {
      if (buf.length < n * K) buf = new Float32Array(n * K);
      const d = states.length / n;
      for (let s = 0; s < n; s++) buf.set(spec.alpha[segmentOf(spec, states, s * d)], s * K);
      return buf;
    },
  };
}

export interface LinearStatePolicySpec {
  /** standardisation of the state (d values each) */
  state: Standardizer;
  /** [(k − 1) × d] weights of the log-ratios log(α_i / α_k) */
  W: number[][];
  /** [k − 1] their intercepts */
  b: number[];
  /** Σ α */
  scale: number;
}

export function linearStatePolicy(spec: LinearStatePolicySpec, id = 'linear-state'): FusionPolicy {
  const d = spec.state.mean.length;
  if (spec.W.length !== K - 1 || spec.b.length !== K - 1 || spec.W.some((w) => w.length !== d)) {
    throw new RangeError(`linearStatePolicy: W must be ${K - 1} × ${d} and b ${K - 1} long`);
  }
  const phi = new Float64Array(d);
  const logits = new Float64Array(K - 1);
  let buf = new Float32Array(0);
  return {
    id,
    act(states, n) {
      if (states.length !== n * d) throw new RangeError(`linearStatePolicy: states have ${states.length / n} features, the policy ${d}`);
      if (buf.length < n * K) buf = new Float32Array(n * K);
      for (let s = 0; s < n; s++) {
        for (let j = 0; j < d; j++) phi[j] = (states[s * d + j] - spec.state.mean[j]) / spec.state.std[j];
        for (let t = 0; t < K - 1; t++) {
          let z = spec.b[t];
          const w = spec.W[t];
          for (let j = 0; j < d; j++) z += w[j] * phi[j];
          logits[t] = z;
        }
        scaleTo(buf, s * K, logits, spec.scale);
      }
      return buf;
    },
  };
}
