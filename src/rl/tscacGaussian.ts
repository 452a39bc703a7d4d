/**
 * Diagonal Gaussian policies for TSCAC (Cai et al.; the live system's actor outputs "the mean and variance
 * of a multivariate Gaussian"), in normalised action units:
 *
 *   π(a|s) = N(μ(s), diag σ(s)²),  μ(s) = tanh(h_μ(s)) ∈ [−1, 1]^A,
 *   log σ(s) = lo + (hi − lo)·sigmoid(h_σ(s))   (a smooth clamp to [lo, hi]),
 *
 * where [h_μ, h_σ] is one ReLU MLP with 2A outputs. The served, deterministic α is μ(s): the first A
 * output columns with tanh (`gaussianMeanSpec`), the same function as the TD3 actor's export.
 * Also here: the log-density, the closed-form KL between two diagonal Gaussians, and the weights of
 * the stage-two actor loss (paper Eq. 15).
 */
import * as tf from '@tensorflow/tfjs';
import { createMlp, mlp, mlpSpec, type LayerSpec, type Mlp } from './networks/mlp.ts';
import type { Rng } from './rng.ts';

const LOG_2PI = Math.log(2 * Math.PI);

export interface LogStdRange {
  lo: number;
  hi: number;
}

export interface GaussianParams {
  /** [B, A] in [−1, 1] */
  mean: tf.Tensor2D;
  /** [B, A] in [lo, hi] */
  logStd: tf.Tensor2D;
}

/** One MLP [S, hidden…, 2A]: columns 0…A−1 → μ (tanh), A…2A−1 → log σ (squashed). */
export function createGaussianActor(stateDim: number, actionDim: number, hidden: number[], rng: Rng): Mlp {
  return createMlp([stateDim, ...hidden, 2 * actionDim], rng);
}

export function gaussianParams(net: Mlp, s: tf.Tensor2D, actionDim: number, range: LogStdRange): GaussianParams {
  const h = mlp(net, s);
  const B = s.shape[0];
  const mean = tf.tanh(tf.slice(h, [0, 0], [B, actionDim])) as tf.Tensor2D;
  const squash = tf.sigmoid(tf.slice(h, [0, actionDim], [B, actionDim]));
  const logStd = tf.add(range.lo, tf.mul(range.hi - range.lo, squash)) as tf.Tensor2D;
  return { mean, logStd };
}

/** log N(a; μ, diag σ²) per row, [B, 1]: −½ Σ_d ((a_d − μ_d)/σ_d)² − Σ_d log σ_d − (A/2)·log 2π. */
export function gaussianLogProb(p: GaussianParams, a: tf.Tensor2D): tf.Tensor2D {
  const A = a.shape[1];
  const z = tf.mul(tf.sub(a, p.mean), tf.exp(tf.neg(p.logStd)));
  const quad = tf.mul(-0.5, tf.sum(tf.square(z), 1, true));
  return tf.sub(tf.sub(quad, tf.sum(p.logStd, 1, true)), 0.5 * A * LOG_2PI) as tf.Tensor2D;
}

/**
 * KL(p ‖ q) of two diagonal Gaussians per row, [B, 1], in closed form:
 * Σ_d [log σ_q − log σ_p + (σ_p² + (μ_p − μ_q)²)/(2σ_q²) − ½].
 */
export function gaussianKl(p: GaussianParams, q: GaussianParams): tf.Tensor2D {
  const varQ2 = tf.mul(2, tf.exp(tf.mul(2, q.logStd)));
  const num = tf.add(tf.exp(tf.mul(2, p.logStd)), tf.square(tf.sub(p.mean, q.mean)));
  const terms = tf.sub(tf.add(tf.sub(q.logStd, p.logStd), tf.div(num, varQ2)), 0.5);
  return tf.sum(terms, 1, true) as tf.Tensor2D;
}

/** μ(s) only: the layers of the actor with the last layer cut to its first A columns, tanh (for export). */
export function gaussianMeanSpec(net: Mlp, actionDim: number): LayerSpec[] {
  const layers = mlpSpec(net, 'tanh');
  const last = layers[layers.length - 1];
  const W = new Float32Array(last.inDim * actionDim);
  for (let r = 0; r < last.inDim; r++) W.set(last.W.subarray(r * last.outDim, r * last.outDim + actionDim), r * actionDim);
  return [...layers.slice(0, -1), { W, b: last.b.slice(0, actionDim), inDim: last.inDim, outDim: actionDim, activation: 'tanh' }];
}

export interface StageTwoWeightInput {
  /** [B, M] log π_i(a|s) of the logged action under each auxiliary policy */
  logPiAux: tf.Tensor2D;
  /** [B, 1] log π_β(a|s), same units (normalised actions) */
  logPiBeta: tf.Tensor2D;
  /** [B, 1] the main response's advantage, already divided by its scale (e.g. the batch sd) */
  adv: tf.Tensor2D;
  /** [M] Lagrange multipliers λ_i > 0 */
  lambda: tf.Tensor1D;
  /** [B, 1] 1 = the row counts, 0 = left out (truncated: no advantage) */
  mask: tf.Tensor2D;
  /** normalised weights are clipped to at most this */
  clip: number;
}

/**
 * The per-row weight of the stage-two actor loss, paper Eq. (15):
 *   w ∝ Π_i (π_i(a|s)/π_β(a|s))^{λ_i/Λ} · exp(A_1/Λ),  Λ = Σ_j λ_j,
 * computed in log space, self-normalised to mean 1 over the rows that count (a constant factor such as
 * Z(s) or the log-density's units cancels), then clipped at `clip`. Returns w [B, 1] (0 where mask is 0).
 */
export function stageTwoWeights(x: StageTwoWeightInput): tf.Tensor2D {
  const Lambda = tf.sum(x.lambda);
  const c = tf.div(x.lambda, Lambda); // λ_i/Λ, Σ_i c_i = 1
  const logRatio = tf.sub(x.logPiAux, x.logPiBeta); // [B, M]
  const logW = tf.add(tf.sum(tf.mul(logRatio, c), 1, true), tf.div(x.adv, Lambda)) as tf.Tensor2D;
  return normalizeLogWeights(logW, x.mask, x.clip);
}

/** exp(logW) over the rows with mask 1, scaled to mean 1 there (max subtracted first), clipped at `clip`; 0 elsewhere. */
export function normalizeLogWeights(logW: tf.Tensor2D, mask: tf.Tensor2D, clip: number): tf.Tensor2D {
  const valid = tf.greater(mask, 0);
  const masked = tf.where(valid, logW, tf.fill(logW.shape, -Infinity));
  const w = tf.where(valid, tf.exp(tf.sub(masked, tf.max(masked))), tf.zerosLike(logW));
  const rows = tf.maximum(tf.sum(mask), 1);
  const mean = tf.div(tf.sum(w), rows);
  return tf.minimum(tf.div(w, tf.maximum(mean, 1e-30)), clip) as tf.Tensor2D;
}

/** The effective sample size of weights over the rows that count, as a fraction of them: (Σw)² / (n·Σw²). */
export function effectiveSampleFraction(w: tf.Tensor2D, mask: tf.Tensor2D): tf.Scalar {
  const rows = tf.maximum(tf.sum(mask), 1);
  return tf.div(tf.square(tf.sum(w)), tf.mul(rows, tf.maximum(tf.sum(tf.square(w)), 1e-30))) as tf.Scalar;
}
