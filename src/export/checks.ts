/**
 * What the gate checks of the exported files before anything is published (issue 6 §1–2):
 * - parity: onnxruntime's α and scores match the reference computation (reference.ts) on the check
 *   states. BCQ's argmax over n candidates may pick a different candidate where two candidates' Q1 are
 *   within float32 rounding of each other; those rows are near-ties, counted and bounded, not failures.
 * - actions: every α is finite and inside the logged action box [actionMin, actionMax].
 */
import type { Normalization } from '../rl/index.ts';
import { latentSamples, type FusionModel } from './model.ts';
import { createSession, runFloat } from './onnx/runtime.ts';
import { SCORES_OUTPUT, STATE_INPUT, TASK_SCORES_INPUT, WEIGHTS_OUTPUT } from './graphs.ts';
import { ReferenceModel } from './reference.ts';

export interface ParityOptions {
  /** largest |Δα| allowed outside near-ties (default 1e-4) */
  tolerance?: number;
  /** a state whose best two Q1 values are closer than this (relative to max(1, |Q1|)) is a near-tie (default 1e-4) */
  tieTolerance?: number;
  /** largest share of states allowed to pick another candidate on a near-tie (default 0.01) */
  maxTieShare?: number;
  /** candidates per state in the scorer check (default 16) */
  candidates?: number;
}

export interface ParityResult {
  passed: boolean;
  states: number;
  /** max |α_onnx − α_ref| over the states that are not near-tie flips */
  max_abs_diff: number;
  /** states whose best two Q1 values are within the tie tolerance (BCQ; 0 otherwise) */
  near_ties: number;
  /** near-tie states where onnxruntime picked another candidate than the reference */
  near_tie_flips: number;
  /** states with |Δα| above tolerance that are not near-ties */
  mismatches: number;
  /** max |Δscore|/max(1, |score|) of scorer.onnx against the reference */
  score_max_rel_diff: number;
  /** max |α_scorer − α_policy|: the two files must agree */
  scorer_policy_diff: number;
  /** max |α_onnx − α_tfjs| against the TensorFlow.js policy itself (deterministic policies; null for BCQ, whose TF.js policy samples new z per call) */
  tfjs_max_abs_diff: number | null;
  tolerance: number;
}

/** Runs both graphs on `states` (logged units) and compares them with the reference computation. */
export async function checkParity(
  files: { policy: Uint8Array; scorer: Uint8Array },
  model: FusionModel,
  states: Float32Array,
  opts: ParityOptions = {},
): Promise<{ parity: ParityResult; alpha: Float32Array }> {
  const tol = opts.tolerance ?? 1e-4;
  const tieTol = opts.tieTolerance ?? 1e-4;
  const { stateDim: d, actionDim: k } = model;
  const count = states.length / d;
  const ref = new ReferenceModel(model).act(states, count);

  const policy = await createSession(files.policy);
  const scorer = await createSession(files.scorer);
  try {
    const [alpha] = await runFloat(policy, { [STATE_INPUT]: { data: states, dims: [count, d] } }, [WEIGHTS_OUTPUT]);
    let maxAbs = 0;
    let nearTies = 0;
    let flips = 0;
    let mismatches = 0;
    for (let i = 0; i < count; i++) {
      let rowDiff = 0;
      for (let t = 0; t < k; t++) rowDiff = Math.max(rowDiff, Math.abs(alpha[i * k + t] - ref.alpha[i * k + t]));
      const tie = ref.q ? isNearTie(ref.q, i, ref.q.length / count, tieTol) : false;
      if (tie) nearTies++;
      if (rowDiff > tol) {
        if (tie) flips++;
        else mismatches++;
      } else maxAbs = Math.max(maxAbs, rowDiff);
    }
    if (Number.isNaN(maxAbs)) mismatches = count;

    // The scorer on the first states with C candidates each: its α must equal policy.onnx's, its scores Eq. (1).
    const m = Math.min(count, 256);
    const C = opts.candidates ?? 16;
    const o = latentSamples(m * C * k, 1, Infinity, 17).map((z) => 1 / (1 + Math.exp(-z))); // o ∈ (0, 1)
    const [alphaS, scores] = await runFloat(
      scorer,
      { [STATE_INPUT]: { data: states.subarray(0, m * d), dims: [m, d] }, [TASK_SCORES_INPUT]: { data: o, dims: [m, C, k] } },
      [WEIGHTS_OUTPUT, SCORES_OUTPUT],
    );
    let scorerPolicy = 0;
    for (let i = 0; i < m * k; i++) scorerPolicy = Math.max(scorerPolicy, Math.abs(alphaS[i] - alpha[i]));
    let scoreRel = 0;
    const beta = model.beta;
    for (let i = 0; i < m; i++) {
      for (let c = 0; c < C; c++) {
        let f = 0;
        for (let t = 0; t < k; t++) f += alphaS[i * k + t] * Math.log(o[(i * C + c) * k + t] + beta[t]);
        scoreRel = Math.max(scoreRel, Math.abs(scores[i * C + c] - f) / Math.max(1, Math.abs(f)));
      }
    }
    if (Number.isNaN(scoreRel) || Number.isNaN(scorerPolicy)) scoreRel = Infinity;
    const maxTies = Math.floor((opts.maxTieShare ?? 0.01) * count);
    const passed = mismatches === 0 && flips <= maxTies && maxAbs <= tol && scoreRel <= tol && scorerPolicy <= tol;
    return {
      parity: {
        passed,
        states: count,
        max_abs_diff: maxAbs,
        near_ties: nearTies,
        near_tie_flips: flips,
        mismatches,
        score_max_rel_diff: scoreRel,
        scorer_policy_diff: scorerPolicy,
        tfjs_max_abs_diff: null,
        tolerance: tol,
      },
      alpha,
    };
  } finally {
    await policy.release();
    await scorer.release();
  }
}

/** Whether the best two of the n Q1 values of state i are within tol·max(1, |best|). */
export function isNearTie(q: ArrayLike<number>, i: number, n: number, tol: number): boolean {
  if (n < 2) return false;
  let best = -Infinity;
  let second = -Infinity;
  for (let j = i * n; j < (i + 1) * n; j++) {
    const v = q[j];
    if (v > best) {
      second = best;
      best = v;
    } else if (v > second) second = v;
  }
  return best - second <= tol * Math.max(1, Math.abs(best));
}

export interface ActionCheck {
  passed: boolean;
  states: number;
  non_finite: number;
  out_of_bounds: number;
  /** the first offending state and dimension, for the rejection message */
  first_problem: string | null;
}

/** Every α finite and within [actionMin, actionMax] (up to float32 rounding of the bounds). */
export function checkActions(alpha: Float32Array, norm: Normalization, names: string[]): ActionCheck {
  const k = norm.actionMin.length;
  let nonFinite = 0;
  let outside = 0;
  let first: string | null = null;
  for (let i = 0; i < alpha.length; i++) {
    const t = i % k;
    const v = alpha[i];
    const slack = 1e-5 * Math.max(1, Math.abs(norm.actionMin[t]), Math.abs(norm.actionMax[t]));
    const bad = !Number.isFinite(v) ? 'non-finite' : v < norm.actionMin[t] - slack || v > norm.actionMax[t] + slack ? 'outside' : null;
    if (!bad) continue;
    if (bad === 'non-finite') nonFinite++;
    else outside++;
    first ??= `state ${Math.floor(i / k)}: ${names[t] ?? `α${t}`} = ${v}, bounds [${norm.actionMin[t]}, ${norm.actionMax[t]}]`;
  }
  return { passed: nonFinite === 0 && outside === 0, states: alpha.length / k, non_finite: nonFinite, out_of_bounds: outside, first_problem: first };
}

/**
 * The states the gate checks: `count` draws of N(mean, std) of the training normalisation, then the
 * corners of a ±6σ box (far outside the data, where a broken graph shows first), then `extra`
 * (logged test states, when given).
 */
export function checkStates(model: FusionModel, count: number, extra?: Float32Array): Float32Array {
  const { stateDim: d, normalization: norm } = model;
  const z = latentSamples(count, d, Infinity, 12345);
  const corners = [-6, 6, 0];
  const total = count + corners.length + (extra ? extra.length / d : 0);
  const out = new Float32Array(total * d);
  for (let i = 0; i < count * d; i++) out[i] = norm.stateMean[i % d] + z[i] * norm.stateStd[i % d];
  corners.forEach((c, r) => {
    for (let j = 0; j < d; j++) out[(count + r) * d + j] = norm.stateMean[j] + (j % 2 ? -c : c) * norm.stateStd[j];
  });
  if (extra) out.set(extra, (count + corners.length) * d);
  return out;
}
