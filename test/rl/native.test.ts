/**
 * The native (OpenBLAS) backend computes what the plain CPU backend computes: every kernel it replaces,
 * a gradient through a two-layer net, and a short training run (deterministic and leak-free).
 * Skipped, with the reason, where the addon cannot be built or OpenBLAS is missing.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/rl/backend.ts';
import { dense } from '../../src/rl/kernels.ts';
import { loadNativeBlas } from '../../src/rl/native.ts';
import { Rng } from '../../src/rl/rng.ts';
import { train } from '../../src/rl/index.ts';
import { syntheticBatch, tinyConfig } from './helpers.ts';

const load = loadNativeBlas();
const skip = load.ok ? false : `native backend unavailable: ${load.ok ? '' : load.reason}`;

const rnd = (n: number, seed: number) => new Rng(seed).fillNormal(new Float32Array(n));

/** Runs f on the cpu and the native backend; returns both results as flat arrays. */
async function onBoth(f: () => tf.Tensor | tf.Tensor[]): Promise<[Float32Array[], Float32Array[]]> {
  const run = async (b: 'cpu' | 'native') => {
    await initBackend(b);
    return tf.tidy(() => {
      const r = f();
      return (Array.isArray(r) ? r : [r]).map((t) => Float32Array.from(t.dataSync() as Float32Array));
    });
  };
  return [await run('cpu'), await run('native')];
}

function close(a: Float32Array[], b: Float32Array[], tol = 1e-5) {
  assert.equal(a.length, b.length);
  a.forEach((x, k) => {
    assert.equal(x.length, b[k].length);
    x.forEach((v, i) => assert.ok(Math.abs(v - b[k][i]) <= tol * Math.max(1, Math.abs(v)), `out ${k}[${i}]: ${v} vs ${b[k][i]}`));
  });
}

describe('native backend', { skip }, () => {
  test('matMul with and without transposes, batched, fused with bias + ReLU', async () => {
    const A = rnd(6 * 5, 1);
    const B = rnd(5 * 4, 2);
    const close2 = await onBoth(() => {
      const a = tf.tensor2d(A, [6, 5]);
      const b = tf.tensor2d(B, [5, 4]);
      const at = tf.tensor2d(A, [5, 6]);
      const bt = tf.tensor2d(B, [4, 5]);
      return [
        tf.matMul(a, b),
        tf.matMul(at, b, true, false),
        tf.matMul(a, bt, false, true),
        tf.matMul(at, bt, true, true),
        tf.matMul(tf.tensor3d(A.subarray(0, 24), [2, 3, 4]), tf.tensor3d(rnd(40, 12), [2, 4, 5])),
        tf.matMul(tf.tensor3d(A.subarray(0, 24), [2, 3, 4]), tf.tensor3d(rnd(20, 13), [1, 4, 5])),
        tf.fused.matMul({ a, b, bias: tf.tensor1d(rnd(4, 3)), activation: 'relu' }),
      ];
    });
    close(...close2);
  });

  test('dense forward and gradients (ReLU, tanh, column blocks) match the JS kernels', async () => {
    const [X1, X2, W1, B1, W2, B2] = [rnd(7 * 3, 4), rnd(7 * 2, 5), rnd(5 * 6, 6), rnd(6, 7), rnd(6 * 2, 8), rnd(2, 9)];
    const res = await onBoth(() => {
      const x1 = tf.tensor2d(X1, [7, 3]);
      const x2 = tf.tensor2d(X2, [7, 2]);
      const w1 = tf.tensor2d(W1, [5, 6]);
      const b1 = tf.tensor1d(B1);
      const w2 = tf.tensor2d(W2, [6, 2]);
      const b2 = tf.tensor1d(B2);
      const f = (...t: tf.Tensor[]) => tf.sum(tf.square(dense(dense([t[0], t[1]] as tf.Tensor2D[], t[2] as tf.Tensor2D, t[3] as tf.Tensor1D, 'relu'), t[4] as tf.Tensor2D, t[5] as tf.Tensor1D, 'tanh')));
      return [f(x1, x2, w1, b1, w2, b2), ...tf.grads(f)([x1, x2, w1, b1, w2, b2])];
    });
    close(...res);
  });

  test('elementwise, split/slice, reductions', async () => {
    const X = rnd(12 * 5, 10);
    const Y = rnd(12 * 5, 11);
    const res = await onBoth(() => {
      const x = tf.tensor2d(X, [12, 5]);
      const y = tf.tensor2d(Y, [12, 5]);
      const one = tf.tensor2d([[0.7]]);
      return [
        tf.add(x, y), tf.sub(x, 2), tf.mul(one, y), tf.div(x, tf.add(tf.abs(y), 1)), tf.maximum(x, y), tf.minimum(x, 0.1),
        tf.squaredDifference(x, y), tf.neg(x), tf.exp(tf.clipByValue(x, -3, 3)), tf.square(x), tf.sqrt(tf.abs(x)), tf.tanh(x), tf.relu(x), tf.step(x),
        ...tf.split(x, [2, 3], 1), ...tf.split(x, [4, 8], 0), tf.slice(x, [3, 1], [4, 3]), tf.slice(x, [2, 0], [5, 5]), tf.concat([x, y], 1),
        tf.mean(x), tf.sum(x, 0), tf.max(x, 1),
      ];
    });
    close(...res);
  });

  test('training on native: deterministic for a seed, no tensor leaks', async () => {
    const batch = syntheticBatch({ n: 120 });
    await initBackend('native');
    const before = tf.memory().numTensors;
    const run = async () => {
      const { policy } = await train({ batch, config: tinyConfig('bcq', { backend: 'native', steps: 15 }), progress: 'none' });
      const spec = policy.spec();
      policy.dispose();
      return spec.networks.kind === 'bcq' ? Array.from(spec.networks.q1[0].W) : [];
    };
    const [a, b] = [await run(), await run()];
    assert.deepEqual(a, b);
    assert.equal(tf.memory().numTensors, before);
  });
});
