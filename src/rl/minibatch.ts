/**
 * Minibatches: B rows of the prepared data drawn with the run's RNG (one fillIndices draw per step), gathered
 * into the tensors an Algorithm step takes, and disposed after the step.
 */
import * as tf from '@tensorflow/tfjs';
import type { Minibatch } from './algorithm.ts';
import type { Rng } from './rng.ts';
import type { PreparedData } from './trainingData.ts';

/** B rows drawn uniformly with replacement from the run's RNG, as tensors. */
export function sampleMinibatch(d: PreparedData, rng: Rng, B: number, repeats: number): Minibatch {
  const idx = rng.fillIndices(new Int32Array(B), d.n);
  const S = d.stateDim;
  const idx2 = new Int32Array(B);
  for (let i = 0; i < B; i++) idx2[i] = d.s2Row[idx[i]];
  const s2 = gatherRows(d.s, S, idx2, 1);
  return {
    s: tf.tensor2d(gatherRows(d.s, S, idx, 1), [B, S]),
    a: tf.tensor2d(gatherRows(d.a, d.actionDim, idx, 1), [B, d.actionDim]),
    r: tf.tensor2d(gatherRows(d.r, 1, idx, 1), [B, 1]),
    s2: tf.tensor2d(s2, [B, S]),
    notDone: tf.tensor2d(gatherRows(d.notDone, 1, idx, 1), [B, 1]),
    mask: tf.tensor2d(gatherRows(d.mask, 1, idx, 1), [B, 1]),
    discount: d.discount ? tf.tensor2d(gatherRows(d.discount, 1, idx, 1), [B, 1]) : null,
    s2Rep: repeats > 0 ? tf.tensor2d(gatherRows(d.s, S, idx2, repeats), [B * repeats, S]) : null,
    rR: d.responses ? tf.tensor2d(gatherRows(d.responses.r, d.responses.R, idx, 1), [B, d.responses.R]) : null,
    discountR: d.responses ? tf.tensor2d(gatherRows(d.responses.discount, d.responses.R, idx, 1), [B, d.responses.R]) : null,
    logpB: d.logpB ? tf.tensor2d(gatherRows(d.logpB, 1, idx, 1), [B, 1]) : null,
    ...(d.boxMu ? boxRows(d.boxMu, d.actionDim, d.n, idx, idx2) : {}),
  };
}

/**
 * μ(s) of the sampled rows and μ(s′) of their targets' states. s′ is a row of the data (s2Row < n) except
 * where the batch stored its next states apart (format 1 files): there the row's own μ(s) stands in.
 */
function boxRows(mu: Float32Array, A: number, n: number, idx: Int32Array, idx2: Int32Array): { boxMu: tf.Tensor2D; boxMu2: tf.Tensor2D } {
  const B = idx.length;
  const next = new Int32Array(B);
  for (let i = 0; i < B; i++) next[i] = idx2[i] < n ? idx2[i] : idx[i];
  return { boxMu: tf.tensor2d(gatherRows(mu, A, idx, 1), [B, A]), boxMu2: tf.tensor2d(gatherRows(mu, A, next, 1), [B, A]) };
}

/** Rows idx[0], idx[1], … of a flat [n × dim] array, each repeated `times` times (plain loops: rows are short). */
function gatherRows(src: Float32Array, dim: number, idx: Int32Array, times: number): Float32Array {
  const out = new Float32Array(idx.length * times * dim);
  let o = 0;
  for (let i = 0; i < idx.length; i++) {
    const from = idx[i] * dim;
    for (let t = 0; t < times; t++) for (let j = 0; j < dim; j++) out[o++] = src[from + j];
  }
  return out;
}

/** Frees every tensor of a minibatch. */
export function disposeMinibatch(mb: Minibatch): void {
  tf.dispose([mb.s, mb.a, mb.r, mb.s2, mb.notDone, mb.mask]);
  if (mb.s2Rep) mb.s2Rep.dispose();
  if (mb.discount) mb.discount.dispose();
  if (mb.rR) mb.rR.dispose();
  if (mb.discountR) mb.discountR.dispose();
  if (mb.logpB) mb.logpB.dispose();
  if (mb.boxMu) mb.boxMu.dispose();
  if (mb.boxMu2) mb.boxMu2.dispose();
}
