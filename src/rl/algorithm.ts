/**
 * What every algorithm (BCQ and the baselines) offers the trainer, the checkpoints and the policy:
 * one interface, so that one conformance test runs them all through fit → save → resume → act.
 */
import * as tf from '@tensorflow/tfjs';
import type { BoxSettings } from './behaviorBox.ts';
import type { AlgoName } from './config.ts';
import type { NativeBlas } from './native.ts';
import type { LayerSpec } from './networks/mlp.ts';
import type { Rng } from './rng.ts';

/** One minibatch, already normalised (states standardised, actions in [−1, 1]). */
export interface Minibatch {
  /** [B, S] */
  s: tf.Tensor2D;
  /** [B, A] */
  a: tf.Tensor2D;
  /** [B, 1] */
  r: tf.Tensor2D;
  /** [B, S] */
  s2: tf.Tensor2D;
  /** [B, 1]: 1 − done (0 = terminal, no bootstrap) */
  notDone: tf.Tensor2D;
  /** [B, 1]: 1 − truncated. A truncated row has no known s′, so it is left out of the critic loss. */
  mask: tf.Tensor2D;
  /**
   * [B, 1]: the weight of the bootstrapped value in the critic target, γ^m·(1 − done) for rows whose
   * target spans m logged steps (n-step returns: r then holds Σ_{k<m} γ^k r_{t+k} and s2 the state
   * after them). Absent or null: one-step targets, weight γ·notDone.
   */
  discount?: tf.Tensor2D | null;
  /** [B·n, S]: s′ repeated n times row by row, when the algorithm asks for n > 0 repeats */
  s2Rep: tf.Tensor2D | null;
  /**
   * Per-response critics (config `responses`, R of them): [B, R] rewards r_i = κ·w_i·Σ_{k<m} γ_i^k v_{i,t+k}
   * and [B, R] bootstrap weights γ_i^m·(1 − done), over the same m-row windows as r/discount. Absent
   * or null without responses.
   */
  rR?: tf.Tensor2D | null;
  discountR?: tf.Tensor2D | null;
  /**
   * [B, 1] log π_β(a|s) of the logged action in normalised units (the log's action_logp plus the log-Jacobian
   * of the action normalisation), present only when every training row has a finite action_logp (TSCAC, Eq. 15).
   */
  logpB?: tf.Tensor2D | null;
  /**
   * Box-aware training (config behaviorBox, src/rl/behaviorBox.ts): [B, A] the live policy's mean μ(s) of each
   * row's state and [B, A] μ(s′) of its target's state, normalised; absent or null without a box.
   */
  boxMu?: tf.Tensor2D | null;
  boxMu2?: tf.Tensor2D | null;
}

/** The networks a deployed policy evaluates (weights copied out), for policy.ts and the ONNX export. */
export type PolicyNetworks =
  | {
      kind: 'bcq';
      /** decoder input = [s_norm, z], output tanh → normalised action */
      decoder: LayerSpec[];
      /** perturbation input = [s_norm, a], last layer tanh; ξ = clip(a + ρ·out, −1, 1) */
      perturbation: LayerSpec[];
      /** Q1 input = [s_norm, a] */
      q1: LayerSpec[];
      latentDim: number;
      zClip: number;
      rho: number;
      numSamples: number;
    }
  | { kind: 'vae-decoder'; decoder: LayerSpec[]; latentDim: number }
  | { kind: 'deterministic'; actor: LayerSpec[] };

export interface Algorithm {
  readonly name: AlgoName;
  /** how many times the minibatch must repeat s′ (BCQ: n for Eq. 7; others 0) */
  readonly nextStateRepeats: number;
  /** One gradient step of every network; returns its scalars (losses, Q statistics) for the curves. */
  step(mb: Minibatch, rng: Rng): Record<string, number>;
  /**
   * π(s) in normalised units for `count` normalised states, row-major. `latent` (BCQ: [n × latentDim]
   * baked codes, src/rl/latent.ts) replaces the per-state draws from `rng`; the others ignore it.
   */
  act(states: Float32Array, count: number, rng: Rng, latent?: Float32Array | null): Float32Array;
  /** Q1(s, a) for normalised inputs, or null where the algorithm has no critic (with responses: Σ_i w_i·Q1_i, scaled units). */
  q1(states: Float32Array, actions: Float32Array, count: number): Float32Array | null;
  /** With per-response critics: Q1_i(s, a) as [count × R] in the critics' units (κ·w_i per unit of response i); else null or absent. */
  qResponses?(states: Float32Array, actions: Float32Array, count: number): Float32Array | null;
  /** every tensor of the training state by stable name: weights, targets, optimiser moments */
  variables(): [string, tf.Variable][];
  /** the integer counters of the training state (optimiser steps, update counts) */
  counters(): Record<string, number>;
  setCounters(c: Record<string, number>): void;
  policyNetworks(): PolicyNetworks;
  /**
   * Called by the trainer once before the first step (again on resume, from the same data): the prepared
   * main reward column, the per-response columns, the behavior log-densities and the steps of the run
   * (TSCAC: critic target scales, the checks of stage boundary and behavior density).
   */
  prepare?(d: { r: Float32Array; responses: { R: number; r: Float32Array } | null; logpB: Float32Array | null; steps: number }): void;
  /**
   * Algorithms with the VAE G (BCQ, BC): the train split's per-coordinate sd of the normalised actions,
   * which the standardized reconstruction error of Eq. (3) divides by (config vaeActionScale). The
   * trainer calls it once, before the first step (it is recomputed from the data on resume).
   */
  setActionSpread?(sd: ArrayLike<number>): void;
  /**
   * On the native backend: run every later step as one native call (BCQ: fusedBcq.ts), the same
   * arithmetic as the tfjs step to float rounding. Returns whether it will (false keeps the tfjs step).
   */
  useFusedStep?(blas: NativeBlas, batchSize: number): boolean;
  /**
   * Box-aware training (config behaviorBox): from now on every minibatch carries boxMu/boxMu2 and the
   * step penalises actions outside [μ − h, μ + h] (src/rl/behaviorBox.ts). Absent: the algorithm has no
   * box-aware form (the trainer refuses the config).
   */
  setBehaviorBox?(box: BoxSettings): void;
  /**
   * Algorithms with the VAE G: `samples` decoded actions D(s, z) per normalised state, z ~ N(0, I)
   * (clipped to ±zClip unless zClip is null), [count × samples × A] normalised: the logged action
   * distribution as the generative model represents it.
   */
  sampleGenerator?(states: Float32Array, count: number, samples: number, rng: Rng, zClip: number | null): Float32Array;
  dispose(): void;
}

/** A [rows, cols] tensor of N(0,1) samples from the run's RNG, optionally clipped. */
export function normal(rng: Rng, rows: number, cols: number, clip?: number): tf.Tensor2D {
  return tf.tensor2d(rng.fillNormal(new Float32Array(rows * cols), clip), [rows, cols]);
}

/** Each row of a [count, dim] array repeated `times` times in place (row 0 ×times, row 1 ×times, …). */
export function repeatRows(x: Float32Array, count: number, dim: number, times: number): Float32Array {
  const out = new Float32Array(count * times * dim);
  for (let i = 0; i < count; i++) {
    const row = x.subarray(i * dim, (i + 1) * dim);
    for (let j = 0; j < times; j++) out.set(row, (i * times + j) * dim);
  }
  return out;
}

/** Reads a tensor into a fresh array (never the backend's own buffer). */
export function read(t: tf.Tensor): Float32Array {
  return Float32Array.from(t.dataSync() as Float32Array);
}
