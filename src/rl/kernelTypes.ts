/**
 * What the kernel modules share (kernels.ts registers the ops, nativeKernels.ts and elementwise.ts
 * implement them on the native backend): kept apart so that those modules import no module that imports
 * them back.
 */
import type * as tf from '@tensorflow/tfjs';

export type DenseActivation = 'relu' | 'linear' | 'tanh';
/** the activation codes of native/blas (ACT_LINEAR, ACT_RELU, ACT_TANH) */
export const ACTIVATION_CODE: Record<DenseActivation, number> = { linear: 0, relu: 1, tanh: 2 };

export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** 1-based step count, for the bias corrections */
  t: number;
}

/** A tfjs kernel function's argument. */
export type KernelArgs = { inputs: Record<string, tf.TensorInfo>; backend: unknown; attrs?: Record<string, unknown> };
