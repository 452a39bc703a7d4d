/**
 * Box-aware training (issue 21 §2; UnifiedRL, Tencent, arXiv 2404.17589): when the logs come from
 * bounded exploration — α = μ(s) + h·(2u − 1), u ~ U[0, 1)^k, around the live policy's mean μ(s)
 * (schemas/exploration.md, the uniform arm) — every logged action of a state lies in the box
 * [μ(s) − h, μ(s) + h], and nothing outside it was ever tried there. Instead of BCQ's generative
 * constraint (a VAE of the logged actions, Eq. 3–5), the learner is told that box and penalised softly
 * for leaving it:
 *
 *   - the actor:      L_π += w_π · mean_B Σ_j relu(|π_j(s) − μ_j(s)| − h_j)²
 *   - the TD targets: Q′(s′, ã) − w_Q · q̄ · Σ_j relu(|ã_j − μ_j(s′)| − h_j)²   (ã the target action)
 *
 * in the learners' normalised action units (the action interval mapped to [−1, 1]: h_j → 2h_j/(max_j −
 * min_j)). q̄ = mean |Q′(s′, ã)| of the minibatch (a constant of the step, as TD3+BC's λ) makes w_Q
 * unitless: an action one normalised unit outside the box loses w_Q·q̄ of its value. Squared excess
 * (not a hard clip) keeps gradients flowing back towards the box, as UnifiedRL's "soft penalties".
 *
 * μ(s) is not a latent of the simulator: it is the served model's output at the logged state. The
 * policy_id each row logs (`<arm>:<version>`) names the version, whose policy.onnx the model store
 * keeps (the pipeline's train stage resolves it: src/stages/behaviorMeans.ts). Rows of every arm get the
 * same box — on the control arm (α = μ) and Gaussian arms the box is still where exploration around
 * that state reaches.
 */
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors/index.ts';
import type { BehaviorBox } from './behaviorBoxSchema.ts';
import type { Normalization } from './normalization.ts';

export { BehaviorBoxSchema, type BehaviorBox } from './behaviorBoxSchema.ts';

/** What an algorithm needs of the box: h per coordinate in normalised units, and the two weights. */
export interface BoxSettings {
  half: Float32Array;
  actorWeight: number;
  targetWeight: number;
}

/** h per coordinate in the learners' units: 2h_j / (max_j − min_j) (the action interval maps to [−1, 1]). */
export function normalizedBox(box: BehaviorBox, norm: Normalization): BoxSettings {
  const A = norm.actionMin.length;
  const h = typeof box.halfWidth === 'number' ? new Array<number>(A).fill(box.halfWidth) : box.halfWidth;
  if (h.length !== A) throw new InputError(`behaviorBox.halfWidth: ${h.length} values for ${A} action coordinates`, { field: 'behaviorBox.halfWidth' });
  const half = new Float32Array(A);
  for (let j = 0; j < A; j++) {
    const range = norm.actionMax[j] - norm.actionMin[j];
    half[j] = range > 0 ? (2 * h[j]) / range : 0;
  }
  return { half, actorWeight: box.actorWeight, targetWeight: box.targetWeight };
}

/** Σ_j relu(|x_j − μ_j| − h_j)² per row, [B, 1]: zero inside the box, the squared distance to it outside. */
export function boxExcess(x: tf.Tensor2D, mu: tf.Tensor2D, half: tf.Tensor1D | Float32Array): tf.Tensor2D {
  return tf.tidy(() => {
    const h = half instanceof Float32Array ? tf.tensor1d(half) : half;
    const out = tf.relu(tf.sub(tf.abs(tf.sub(x, mu)), h));
    return tf.sum(tf.square(out), 1, true) as tf.Tensor2D;
  });
}

/** The actor's penalty: w_π · mean_B boxExcess(π(s), μ(s)). */
export function boxActorPenalty(pi: tf.Tensor2D, mu: tf.Tensor2D, box: BoxSettings): tf.Scalar {
  return tf.tidy(() => tf.mul(box.actorWeight, tf.mean(boxExcess(pi, mu, box.half))) as tf.Scalar);
}

/** Q′(s′, ã) − w_Q · mean|Q′| · boxExcess(ã, μ(s′)), [B, 1] (nextQ [B, 1]). */
export function boxTargetValue(nextQ: tf.Tensor2D, aNext: tf.Tensor2D, mu2: tf.Tensor2D, box: BoxSettings): tf.Tensor2D {
  return tf.tidy(() => {
    if (box.targetWeight === 0) return nextQ.clone();
    const qBar = tf.mean(tf.abs(nextQ));
    return tf.sub(nextQ, tf.mul(tf.mul(box.targetWeight, qBar), boxExcess(aNext, mu2, box.half))) as tf.Tensor2D;
  });
}

/**
 * The share of rows whose action lies outside the box by more than `tol` (normalised units) in some
 * coordinate: a check that the box and μ(s) describe the data (uniform-arm rows must be inside).
 */
export function shareOutsideBox(a: Float32Array, mu: Float32Array, n: number, half: Float32Array, tol = 1e-4): number {
  const A = half.length;
  let rows = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < A; j++) {
      if (Math.abs(a[i * A + j] - mu[i * A + j]) > half[j] + tol) {
        rows += 1;
        break;
      }
    }
  }
  return rows / Math.max(n, 1);
}

/** The minibatch's μ(s), or an error that says the trainer did not supply it. */
export function boxMuOf(mb: { boxMu?: tf.Tensor2D | null }): tf.Tensor2D {
  if (!mb.boxMu) throw new Error('behaviorBox: the minibatch carries no μ(s) (boxMu): the trainer must supply TrainOptions.behaviorMean');
  return mb.boxMu;
}

/** The minibatch's μ(s′) of the targets' states. */
export function boxMu2Of(mb: { boxMu2?: tf.Tensor2D | null }): tf.Tensor2D {
  if (!mb.boxMu2) throw new Error('behaviorBox: the minibatch carries no μ(s′) (boxMu2): the trainer must supply TrainOptions.behaviorMean');
  return mb.boxMu2;
}
