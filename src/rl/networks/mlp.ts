/**
 * ReLU multilayer perceptrons as plain tf.Variables (paper §4.2: ReLU MLPs), built on the fused
 * `dense` kernel. Kept as data — a list of (W, b) — so that checkpoints, target copies, the policy
 * function and a later ONNX export (issue 6) can all read the same weights by name.
 */
import * as tf from '@tensorflow/tfjs';
import { dense, type DenseActivation } from '../kernels.ts';
import type { Rng } from '../rng.ts';

export interface DenseParams {
  /** [in, out] */
  W: tf.Variable;
  /** [out] */
  b: tf.Variable;
}

export interface Mlp {
  layers: DenseParams[];
}

/**
 * sizes = [in, hidden…, out]. Initialised as PyTorch's nn.Linear (U(−1/√fan_in, 1/√fan_in) for W and b),
 * the initialisation of the reference BCQ code, drawn from our seeded RNG.
 */
export function createMlp(sizes: number[], rng: Rng): Mlp {
  if (sizes.length < 2 || sizes.some((n) => !Number.isInteger(n) || n <= 0)) {
    throw new RangeError(`Expected layer sizes to be at least two positive integers, but got [${sizes.join(', ')}].`);
  }
  const layers: DenseParams[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    const [fanIn, fanOut] = [sizes[i], sizes[i + 1]];
    const bound = 1 / Math.sqrt(fanIn);
    const W = rng.fillUniform(new Float32Array(fanIn * fanOut), -bound, bound);
    const b = rng.fillUniform(new Float32Array(fanOut), -bound, bound);
    // tidy: the initial-value tensors go; the variables (never tidied) stay
    layers.push(tf.tidy(() => ({ W: tf.variable(tf.tensor2d(W, [fanIn, fanOut])), b: tf.variable(tf.tensor1d(b)) })) as DenseParams);
  }
  return { layers };
}

/**
 * Hidden layers ReLU, the last one `last` (linear by default). The input may be given as column blocks
 * ([s, a]): the first layer multiplies each block by its rows of W, without building the concatenation.
 */
export function mlp(net: Mlp, x: tf.Tensor2D | tf.Tensor2D[], last: DenseActivation = 'linear'): tf.Tensor2D {
  let h: tf.Tensor2D | tf.Tensor2D[] = x;
  net.layers.forEach(({ W, b }, i) => {
    h = dense(h, W as tf.Tensor2D, b as tf.Tensor1D, i + 1 < net.layers.length ? 'relu' : last);
  });
  return h as tf.Tensor2D;
}

/** A target copy: same shapes, same values, independent variables. */
export function cloneMlp(net: Mlp): Mlp {
  return { layers: net.layers.map(({ W, b }) => tf.tidy(() => ({ W: tf.variable(W.clone()), b: tf.variable(b.clone()) })) as DenseParams) };
}

/** Variables by stable name: `${prefix}.${i}.W`, `${prefix}.${i}.b`. */
export function mlpVariables(prefix: string, net: Mlp): [string, tf.Variable][] {
  return net.layers.flatMap(({ W, b }, i): [string, tf.Variable][] => [
    [`${prefix}.${i}.W`, W],
    [`${prefix}.${i}.b`, b],
  ]);
}

export function disposeMlp(net: Mlp): void {
  for (const { W, b } of net.layers) {
    W.dispose();
    b.dispose();
  }
}

/** The weights as plain arrays, for the policy spec / ONNX export. */
export interface LayerSpec {
  W: Float32Array;
  b: Float32Array;
  inDim: number;
  outDim: number;
  activation: DenseActivation;
}

export function mlpSpec(net: Mlp, last: DenseActivation = 'linear'): LayerSpec[] {
  return net.layers.map(({ W, b }, i) => ({
    W: (W.dataSync() as Float32Array).slice(),
    b: (b.dataSync() as Float32Array).slice(),
    inDim: W.shape[0],
    outDim: W.shape[1] as number,
    activation: i + 1 < net.layers.length ? 'relu' : last,
  }));
}
