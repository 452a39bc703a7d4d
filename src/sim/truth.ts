/**
 * Ground truth: roll a policy out in the simulator and report the true value of its sessions, with
 * 95% confidence intervals (normal approximation over sessions). Comparisons use common random
 * numbers (same seed → same users, candidates and uniforms) and paired intervals, so that small
 * differences between policies are detectable.
 */
import { GAMMA } from './config.ts';
import { rollout, type RewardWeights, type RolloutOptions, type RolloutResult } from './engine.ts';
import { asPolicy, type BatchPolicyFn, type FusionPolicy } from './policy.ts';
import { defaultWorld, type World } from './world.ts';

export interface Estimate {
  mean: number;
  ci95: [number, number];
}

export const TRUTH_METRICS = ['discounted_return', 'return', 'dwell_time', 'interaction_rate', 'session_length'] as const;
export type TruthMetric = (typeof TRUTH_METRICS)[number];

/** The JSON `mtf truth` prints. */
export type TruthReport = Record<TruthMetric, Estimate> & { sessions: number; seed: number; policy: string; gamma: number };

export interface TruthOptions {
  /** default: the default world */
  world?: World;
  sessions: number;
  seed: number;
  /** only users of this latent type */
  userType?: number;
  rewardWeights?: RewardWeights;
  slots?: number;
}

const Z95 = 1.959963984540054;

/** Rolls `policy` out and summarises it (README §3). A plain batch function is accepted as well. */
export async function groundTruth(policy: FusionPolicy | BatchPolicyFn, o: TruthOptions): Promise<TruthReport> {
  const p = asPolicy(policy);
  return summarize(await rollout(rolloutOptions(p, o)), p.id);
}

/** The report of one rollout's per-session outcomes. */
export function summarize(r: RolloutResult, policyId: string): TruthReport {
  return {
    discounted_return: meanCi(r.discountedReturn),
    return: meanCi(r.return),
    dwell_time: meanCi(r.dwell),
    interaction_rate: ratioCi(r.interactions, r.length),
    session_length: meanCi(r.length),
    sessions: r.sessions,
    seed: r.seed,
    policy: policyId,
    gamma: GAMMA,
  };
}

export interface Comparison {
  /** policy b − policy a, paired over the common sessions */
  diff: Record<TruthMetric, Estimate>;
  /** (b − a) / a of the means, and its interval (a's mean taken as known) */
  relative: Record<TruthMetric, Estimate>;
  a: TruthReport;
  b: TruthReport;
}

/** Rolls out a and b on the same sessions (common random numbers) and reports b − a with paired CIs. */
export async function compareTruth(a: FusionPolicy | BatchPolicyFn, b: FusionPolicy | BatchPolicyFn, o: TruthOptions): Promise<Comparison> {
  const pa = asPolicy(a, 'a');
  const pb = asPolicy(b, 'b');
  const ra = await rollout(rolloutOptions(pa, o));
  const rb = await rollout(rolloutOptions(pb, o));
  return compareResults(ra, rb, pa.id, pb.id);
}

function rolloutOptions(policy: FusionPolicy, o: TruthOptions): RolloutOptions {
  return { world: o.world ?? defaultWorld(), policy, sessions: o.sessions, seed: o.seed, userType: o.userType, rewardWeights: o.rewardWeights, slots: o.slots };
}

export function compareResults(ra: RolloutResult, rb: RolloutResult, idA = 'a', idB = 'b'): Comparison {
  if (ra.sessions !== rb.sessions || ra.seed !== rb.seed) throw new RangeError('compareResults: the rollouts must share sessions and seed');
  const diff = {
    discounted_return: pairedCi(ra.discountedReturn, rb.discountedReturn),
    return: pairedCi(ra.return, rb.return),
    dwell_time: pairedCi(ra.dwell, rb.dwell),
    interaction_rate: pairedRatioCi(ra.interactions, ra.length, rb.interactions, rb.length),
    session_length: pairedCi(ra.length, rb.length),
  };
  const a = summarize(ra, idA);
  const b = summarize(rb, idB);
  const relative = {} as Record<TruthMetric, Estimate>;
  for (const m of TRUTH_METRICS) {
    const base = a[m].mean;
    relative[m] = { mean: diff[m].mean / base, ci95: [diff[m].ci95[0] / base, diff[m].ci95[1] / base] };
  }
  return { diff, relative, a, b };
}

/** Mean and normal-approximation 95% interval. */
export function meanCi(x: ArrayLike<number>): Estimate {
  const n = x.length;
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i];
  const mean = s / n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (x[i] - mean) ** 2;
  const se = n > 1 ? Math.sqrt(v / (n - 1) / n) : NaN;
  return { mean, ci95: [mean - Z95 * se, mean + Z95 * se] };
}

function pairedCi(a: ArrayLike<number>, b: ArrayLike<number>): Estimate {
  const d = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) d[i] = b[i] - a[i];
  return meanCi(d);
}

/** Σ num / Σ den with a delta-method interval over sessions. */
export function ratioCi(num: ArrayLike<number>, den: ArrayLike<number>): Estimate {
  const { r, z } = ratioInfluence(num, den);
  const ci = meanCi(z);
  const half = (ci.ci95[1] - ci.ci95[0]) / 2;
  return { mean: r, ci95: [r - half, r + half] };
}

function pairedRatioCi(na: ArrayLike<number>, da: ArrayLike<number>, nb: ArrayLike<number>, db: ArrayLike<number>): Estimate {
  const A = ratioInfluence(na, da);
  const B = ratioInfluence(nb, db);
  const d = new Float64Array(A.z.length);
  for (let i = 0; i < d.length; i++) d[i] = B.z[i] - A.z[i];
  const ci = meanCi(d);
  const half = (ci.ci95[1] - ci.ci95[0]) / 2;
  const mean = B.r - A.r;
  return { mean, ci95: [mean - half, mean + half] };
}

/** r = Σ num / Σ den and the per-session influence z_i = (num_i − r den_i) / mean(den). */
function ratioInfluence(num: ArrayLike<number>, den: ArrayLike<number>): { r: number; z: Float64Array } {
  const n = num.length;
  let sn = 0;
  let sd = 0;
  for (let i = 0; i < n; i++) {
    sn += num[i];
    sd += den[i];
  }
  const r = sn / sd;
  const md = sd / n;
  const z = new Float64Array(n);
  for (let i = 0; i < n; i++) z[i] = (num[i] - r * den[i]) / md;
  return { r, z };
}
