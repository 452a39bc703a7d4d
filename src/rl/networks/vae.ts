/**
 * The generative network G = {E(z|s,a), D(a|s,z)} of BatchRL-MTF (a conditional VAE, as in BCQ):
 * E maps (s, a) to μ, log σ of a Gaussian over the latent z; D maps (s, z) to an action in [−1, 1].
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';
import { createMlp, disposeMlp, mlp, mlpVariables, type Mlp } from './mlp.ts';

export interface Vae {
  /** (s, a) → h (ReLU trunk) */
  encoder: Mlp;
  /** h → μ */
  mean: Mlp;
  /** h → log σ */
  logStd: Mlp;
  /** (s, z) → action (tanh output) */
  decoder: Mlp;
  latentDim: number;
}

export function createVae(stateDim: number, actionDim: number, latentDim: number, hidden: number[], rng: Rng): Vae {
  const h = hidden[hidden.length - 1];
  return {
    encoder: createMlp([stateDim + actionDim, ...hidden], rng),
    mean: createMlp([h, latentDim], rng),
    logStd: createMlp([h, latentDim], rng),
    decoder: createMlp([stateDim + latentDim, ...hidden, actionDim], rng),
    latentDim,
  };
}

/** E(z|s,a): μ and log σ (clamped to [logStdMin, logStdMax], as the reference BCQ). */
export function encode(vae: Vae, s: tf.Tensor2D, a: tf.Tensor2D, logStdMin: number, logStdMax: number) {
  const h = mlp(vae.encoder, [s, a], 'relu');
  const mu = mlp(vae.mean, h);
  const logStd = tf.clipByValue(mlp(vae.logStd, h), logStdMin, logStdMax);
  return { mu, logStd };
}

/** D(a|s,z) = tanh(·): an action in normalised units. */
export function decode(vae: Vae, s: tf.Tensor2D, z: tf.Tensor2D): tf.Tensor2D {
  return mlp(vae.decoder, [s, z], 'tanh');
}

export interface VaeLossTerms {
  loss: tf.Scalar;
  recon: tf.Scalar;
  kl: tf.Scalar;
}

/**
 * Eq. (3): L_G = (a − D(s, z))² + klWeight · KL(E(z|s,a) ‖ N(0, 1)), with z = μ + σ·ε (reparameterised).
 * Both terms are means over their elements (batch × action dims, batch × latent dims), as the
 * reference BCQ code reduces them; KL(N(μ,σ) ‖ N(0,1)) = −½·(1 + 2·log σ − μ² − σ²) per latent dim.
 * `reconWeight` ([A], config vaeActionScale = standardized): the squared error of action coordinate j
 * is weighted by it (1/σ_j², σ_j the train split's sd of the normalised actions), i.e. measured in
 * standard deviations of the logged actions; null = the paper's plain squared error (README §3.4).
 */
export function vaeLoss(
  vae: Vae,
  s: tf.Tensor2D,
  a: tf.Tensor2D,
  eps: tf.Tensor2D,
  klWeight: number,
  logStdMin: number,
  logStdMax: number,
  reconWeight: tf.Tensor1D | null = null,
): VaeLossTerms {
  const { mu, logStd } = encode(vae, s, a, logStdMin, logStdMax);
  const sigma = tf.exp(logStd);
  const z = tf.add(mu, tf.mul(sigma, eps)) as tf.Tensor2D;
  const aHat = decode(vae, s, z);
  const se = tf.squaredDifference(aHat, a);
  const recon = tf.mean(reconWeight ? tf.mul(se, reconWeight) : se) as tf.Scalar;
  const kl = tf.mul(-0.5, tf.mean(tf.sub(tf.add(1, tf.mul(2, logStd)), tf.add(tf.square(mu), tf.square(sigma))))) as tf.Scalar;
  return { loss: tf.add(recon, tf.mul(klWeight, kl)) as tf.Scalar, recon, kl };
}

/**
 * The per-coordinate weights of the standardized reconstruction error: 1/σ_j² for σ_j the sd of the
 * normalised train actions (a constant coordinate, σ_j ≈ 0, weighs 1).
 */
export function reconWeights(actionSd: ArrayLike<number>): Float32Array {
  return Float32Array.from(actionSd, (sd) => (Number.isFinite(sd) && sd > 1e-6 ? 1 / (sd * sd) : 1));
}

/**
 * Samples of the generative model: for each of `count` normalised states, `samples` decoded actions
 * D(s, z_i), z_i ~ N(0, I) (clipped to ±zClip when given, as BCQ draws its candidates). Returns
 * [count × samples × A], normalised units.
 */
export function sampleActions(vae: Vae, states: Float32Array, count: number, stateDim: number, samples: number, z: Float32Array): Float32Array {
  if (z.length !== count * samples * vae.latentDim) throw new RangeError(`sampleActions: ${z.length} latent values, expected ${count * samples * vae.latentDim}`);
  return tf.tidy(() => {
    const s = tf.tensor2d(states, [count, stateDim]);
    const sRep = tf.reshape(tf.tile(tf.reshape(s, [count, 1, stateDim]), [1, samples, 1]), [count * samples, stateDim]) as tf.Tensor2D;
    return Float32Array.from(decode(vae, sRep, tf.tensor2d(z, [count * samples, vae.latentDim])).dataSync() as Float32Array);
  });
}

export function vaeVariables(prefix: string, vae: Vae): [string, tf.Variable][] {
  return [
    ...mlpVariables(`${prefix}.encoder`, vae.encoder),
    ...mlpVariables(`${prefix}.mean`, vae.mean),
    ...mlpVariables(`${prefix}.logStd`, vae.logStd),
    ...mlpVariables(`${prefix}.decoder`, vae.decoder),
  ];
}

export function disposeVae(vae: Vae): void {
  for (const m of [vae.encoder, vae.mean, vae.logStd, vae.decoder]) disposeMlp(m);
}
