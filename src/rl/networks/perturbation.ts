/**
 * The perturbation network P(s, a, ρ) of BatchRL-MTF (Eq. 5): ξ(s, a) = clip(a + ρ·tanh(P(s, a)), −1, 1)
 * nudges a VAE sample by at most ρ (normalised action units) toward higher Q1.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';
import { createMlp, mlp, type Mlp } from './mlp.ts';

export type Perturbation = Mlp;

export function createPerturbation(stateDim: number, actionDim: number, hidden: number[], rng: Rng): Perturbation {
  return createMlp([stateDim + actionDim, ...hidden, actionDim], rng);
}

/** Eq. (5): a + ρ·tanh(P(s, a)), clipped to the normalised action box [−1, 1]. */
export function perturb(net: Perturbation, s: tf.Tensor2D, a: tf.Tensor2D, rho: number): tf.Tensor2D {
  const xi = tf.mul(rho, mlp(net, [s, a], 'tanh'));
  return tf.clipByValue(tf.add(a, xi), -1, 1) as tf.Tensor2D;
}
