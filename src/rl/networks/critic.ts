/**
 * Twin critics Q1, Q2 (clipped double Q-learning, as BCQ and TD3): each an MLP (s, a) → R.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';
import { cloneMlp, createMlp, disposeMlp, mlp, mlpVariables, type Mlp } from './mlp.ts';

export interface TwinCritic {
  q1: Mlp;
  q2: Mlp;
}

export function createTwinCritic(stateDim: number, actionDim: number, hidden: number[], rng: Rng): TwinCritic {
  return {
    q1: createMlp([stateDim + actionDim, ...hidden, 1], rng),
    q2: createMlp([stateDim + actionDim, ...hidden, 1], rng),
  };
}

/** Q(s, a) as [rows, 1]. */
export function q(net: Mlp, s: tf.Tensor2D, a: tf.Tensor2D): tf.Tensor2D {
  return mlp(net, [s, a]);
}

export function cloneTwinCritic(c: TwinCritic): TwinCritic {
  return { q1: cloneMlp(c.q1), q2: cloneMlp(c.q2) };
}

export function twinCriticVariables(prefix: string, c: TwinCritic): [string, tf.Variable][] {
  return [...mlpVariables(`${prefix}.q1`, c.q1), ...mlpVariables(`${prefix}.q2`, c.q2)];
}

export function disposeTwinCritic(c: TwinCritic): void {
  disposeMlp(c.q1);
  disposeMlp(c.q2);
}
