/**
 * What the by-hand arithmetic tests share: a relative-tolerance comparison and tiny networks with literal
 * weights (every expected number can then be followed with pencil and paper).
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { Mlp } from '../../src/rl/networks/mlp.ts';

/** Element-wise |actual − expected| ≤ tol·max(1, |expected|). */
export const near = (actual: ArrayLike<number> | number, expected: ArrayLike<number> | number, tol = 1e-5) => {
  const a = typeof actual === 'number' ? [actual] : Array.from(actual);
  const e = typeof expected === 'number' ? [expected] : Array.from(expected);
  assert.equal(a.length, e.length, `length ${a.length} vs ${e.length}`);
  a.forEach((v, i) => assert.ok(Math.abs(v - e[i]) <= tol * Math.max(1, Math.abs(e[i])), `[${i}] ${v} vs ${e[i]}`));
};

export const t2 = (rows: number[][]) => tf.tensor2d(rows);

/** An MLP from literal [W rows, b] per layer. */
export const net = (...layers: [number[][], number[]][]): Mlp => ({
  layers: layers.map(([W, b]) => ({ W: tf.variable(tf.tensor2d(W)), b: tf.variable(tf.tensor1d(b)) })),
});
