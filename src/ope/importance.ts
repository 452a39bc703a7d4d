/**
 * Importance-sampling estimates beside FQE, for when the log carries the behavior policy's density
 * (`action_logp`): per-decision weighted importance sampling (self-normalised per step) and the
 * weighted doubly robust estimator of Thomas & Brunskill (2016) with FQE's Q as the model. Not in the
 * BatchRL-MTF paper; they are here so that disagreement between estimators is visible.
 *
 * Our fusion policies are deterministic and α is continuous, so π_e(a|s) is a point mass and the
 * ratio π_e/μ is undefined; we use the kernel-smoothed policy π_h(a|s) = mean_k N(a; π_e,k(s), diag h²)
 * (Kallus & Zhou 2018), h_j = c·std_j with Scott's factor c = n^(−1/(k+4)) unless set.
 *
 * Sessions whose rows carry no action_logp (a σ = 0 control arm: no density) are left out whole; the
 * arm depends only on the session id, so the rest remain a random sample.
 *
 * A bounded uniform arm (issue 21 §3; schemas/exploration.md) logs the constant −k·ln 2h: a true density,
 * used as is. Its support is the box μ ± h only, so the weights see none of π_h's mass outside it: the
 * estimate is unbiased only for targets whose smoothed actions stay within h of the served policy's.
 *
 * Sessions cut by the data window are treated as missing from the cut on (the cut depends on the clock,
 * not on the user): each step's weights are normalised over the sessions still observed at that step; a
 * session that ended stays observed with reward 0. Steps ≥ horizon are left out (γ^100 ≈ 0.006).
 */
import type { OpeData } from './data.ts';

const LOG_2PI = Math.log(2 * Math.PI);

/** h_j = c·std_j, c = `factor` or Scott's n^(−1/(k+4)). */
export function kernelBandwidth(actionStd: readonly number[], n: number, factor: number | null): number[] {
  const k = actionStd.length;
  const c = factor ?? n ** (-1 / (k + 4));
  return actionStd.map((s) => c * (Number.isFinite(s) && s > 1e-6 ? s : 1));
}

/**
 * log π_h(a_i | s_i) for every row: log mean_k Π_j N(a_ij; π_e,k(s_i)_j, h_j²), in logged units
 * (the units of `action_logp`). `pi` is [samples × n × A], logged units.
 */
export function kernelLogDensity(a: Float32Array, pi: Float32Array, n: number, A: number, samples: number, h: readonly number[]): Float64Array {
  const out = new Float64Array(n);
  let logNorm = 0;
  for (let j = 0; j < A; j++) logNorm -= Math.log(h[j]) + 0.5 * LOG_2PI;
  const terms = new Float64Array(samples);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let k = 0; k < samples; k++) {
      let q = 0;
      for (let j = 0; j < A; j++) {
        const z = (a[i * A + j] - pi[(k * n + i) * A + j]) / h[j];
        q += z * z;
      }
      terms[k] = -0.5 * q + logNorm;
      if (terms[k] > max) max = terms[k];
    }
    let s = 0;
    for (let k = 0; k < samples; k++) s += Math.exp(terms[k] - max);
    out[i] = max + Math.log(s / samples);
  }
  return out;
}

export interface WeightedEstimates {
  /** per-decision weighted importance sampling */
  pdwis: number;
  /** weighted doubly robust (null without Q tables) */
  wdr: number | null;
  /** effective sample size of the weights at each step t < horizon (sessions observed at t) */
  ess: number[];
  /** sessions observed at each step */
  observed: number[];
}

export interface WeightedOptions {
  gamma: number;
  horizon: number;
  /** resample multiplicity of each session (bootstrap); default 1 each */
  counts?: Int32Array;
  /** FQE tables, reward units: Q̂(s_i, a_i) and V̂(s_i) = Q̂(s_i, π_e(s_i)) */
  q?: { qData: ArrayLike<number>; qPi: ArrayLike<number> };
}

/**
 * PDWIS: Σ_t γ^t Σ_j w̃_jt r_jt, and WDR: Σ_t γ^t Σ_j [w̃_jt (r_jt − Q̂_jt) + w̃′_j,t−1 V̂_jt], where
 * ρ_jt = Π_{t′≤t} exp(logw), w̃_jt = ρ_jt / Σ_{j′ observed at t} ρ_j′t, w̃′ the same for ρ_j,t−1 (ρ_j,−1 = 1).
 */
export function weightedEstimates(d: Pick<OpeData, 'sessions' | 'ptr' | 'order' | 'sessionCut'>, reward: ArrayLike<number>, logw: ArrayLike<number>, o: WeightedOptions): WeightedEstimates {
  const N = d.sessions;
  const logRho = new Float64Array(N); // ρ_j,t−1 going into step t
  const next = new Float64Array(N);
  const rowAt = new Int32Array(N);
  const seen = new Uint8Array(N);
  let pdwis = 0;
  let wdr = 0;
  const ess: number[] = [];
  const observed: number[] = [];
  // Sessions logged without a density (the control arm's null action_logp, NaN here) are left out whole.
  const noDensity = new Uint8Array(N);
  for (let j = 0; j < N; j++) if (d.ptr[j + 1] > d.ptr[j] && Number.isNaN(logw[d.order[d.ptr[j]]])) noDensity[j] = 1;
  let disc = 1;
  for (let t = 0; t < o.horizon; t++) {
    let max = -Infinity;
    let maxPrev = -Infinity;
    let any = false;
    for (let j = 0; j < N; j++) {
      const len = d.ptr[j + 1] - d.ptr[j];
      const c = o.counts ? o.counts[j] : 1;
      seen[j] = 0;
      if (c === 0 || len === 0 || noDensity[j]) continue;
      if (t < len) {
        const i = d.order[d.ptr[j] + t];
        rowAt[j] = i;
        next[j] = logRho[j] + logw[i];
      } else if (!d.sessionCut[j]) {
        rowAt[j] = -1; // ended: observed, nothing more happens
        next[j] = logRho[j];
      } else continue; // cut by the window: missing from here on
      seen[j] = 1;
      any = true;
      if (next[j] > max) max = next[j];
      if (logRho[j] > maxPrev) maxPrev = logRho[j];
    }
    if (!any) break;
    let sum = 0;
    let sumSq = 0;
    let sumPrev = 0;
    let count = 0;
    for (let j = 0; j < N; j++) {
      if (!seen[j]) continue;
      const c = o.counts ? o.counts[j] : 1;
      const e = Math.exp(next[j] - max);
      sum += c * e;
      sumSq += c * e * e;
      sumPrev += c * Math.exp(logRho[j] - maxPrev);
      count += c;
    }
    let stepIs = 0;
    let stepDr = 0;
    for (let j = 0; j < N; j++) {
      if (!seen[j]) continue;
      const i = rowAt[j];
      if (i < 0) continue;
      const c = o.counts ? o.counts[j] : 1;
      const w = (c * Math.exp(next[j] - max)) / sum;
      const wPrev = (c * Math.exp(logRho[j] - maxPrev)) / sumPrev;
      stepIs += w * reward[i];
      if (o.q) stepDr += w * (reward[i] - o.q.qData[i]) + wPrev * o.q.qPi[i];
    }
    pdwis += disc * stepIs;
    wdr += disc * stepDr;
    ess.push((sum * sum) / sumSq);
    observed.push(count);
    for (let j = 0; j < N; j++) if (seen[j]) logRho[j] = next[j];
    disc *= o.gamma;
  }
  return { pdwis, wdr: o.q ? wdr : null, ess, observed };
}
