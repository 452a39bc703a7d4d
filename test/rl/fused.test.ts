/**
 * The fused BCQ step (native/blas/mtf_fused.c, src/rl/fusedBcq.ts) against the tfjs step it replaces:
 * same draws, same updates to float rounding, same counters; its RNG port and tanh against the JS ones;
 * its argument checks. Skipped, with the reason, where the native addon cannot be built.
 *
 * Tolerance stated: after 1 and after 60 steps every variable (weights, target copies, Adam moments)
 * within 2e-5 of the tfjs path's value relative to that variable's largest magnitude, and every scalar
 * of the step within 2e-5 relative — measured 0.2–2.1e-6 (the sgemm calls differ in row counts, which
 * changes OpenBLAS's blocking; the loss sums run in a different order).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/rl/backend.ts';
import { Bcq } from '../../src/rl/bcq.ts';
import { BcqConfigSchema } from '../../src/rl/config.ts';
import { train } from '../../src/rl/index.ts';
import { loadNativeBlas } from '../../src/rl/native.ts';
import { Rng, ZIGGURAT_TABLES } from '../../src/rl/rng.ts';
import type { Minibatch } from '../../src/rl/algorithm.ts';
import { syntheticBatch, tinyConfig } from './helpers.ts';

const load = loadNativeBlas();
const skip = load.ok ? false : `native backend unavailable: ${load.ok ? '' : load.reason}`;

const S = 6;
const A = 4;
const B = 32;
const N = 5;

function minibatch(dr: Rng): Minibatch {
  const s2 = dr.fillNormal(new Float32Array(B * S));
  const rep = new Float32Array(B * N * S);
  for (let i = 0; i < B; i++) for (let j = 0; j < N; j++) rep.set(s2.subarray(i * S, (i + 1) * S), (i * N + j) * S);
  return {
    s: tf.tensor2d(dr.fillNormal(new Float32Array(B * S)), [B, S]),
    a: tf.tensor2d(dr.fillUniform(new Float32Array(B * A), -1, 1), [B, A]),
    r: tf.tensor2d(dr.fillNormal(new Float32Array(B)), [B, 1]),
    s2: tf.tensor2d(s2, [B, S]),
    notDone: tf.tensor2d(Float32Array.from({ length: B }, (_, i) => (i % 5 === 4 ? 0 : 1)), [B, 1]),
    mask: tf.tensor2d(Float32Array.from({ length: B }, (_, i) => (i % 7 === 0 ? 0 : 1)), [B, 1]),
    discount: tf.tensor2d(Float32Array.from({ length: B }, (_, i) => (i % 5 === 4 ? 0 : 0.9 ** (1 + (i % 3)))), [B, 1]),
    s2Rep: tf.tensor2d(rep, [B * N, S]),
    rR: null,
    discountR: null,
    logpB: null,
  };
}

function worstRelative(a: [string, tf.Variable][], b: [string, tf.Variable][]): { name: string; rel: number } {
  assert.deepEqual(a.map(([n]) => n), b.map(([n]) => n));
  let worst = { name: '', rel: 0 };
  a.forEach(([name, v], k) => {
    const x = v.dataSync();
    const y = b[k][1].dataSync();
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < x.length; i++) {
      diff = Math.max(diff, Math.abs(x[i] - y[i]));
      scale = Math.max(scale, Math.abs(x[i]));
    }
    const rel = diff / (scale || 1);
    if (rel > worst.rel) worst = { name, rel };
  });
  return worst;
}

describe('fused BCQ step', { skip }, () => {
  test('the C port of the ziggurat draws the same normals as Rng.fillNormal, tails and clipping included', () => {
    const blas = load.ok ? load.blas : null!;
    const { KN, WN, FN } = ZIGGURAT_TABLES();
    blas.setZiggurat(KN, WN, FN);
    for (const clip of [Infinity, 0.5]) {
      const js = new Rng(42);
      const c = new Rng(42);
      const a = js.fillNormal(new Float32Array(300_000), clip);
      const b = new Float32Array(300_000);
      blas.fillNormal(c.stateWords(), b, clip);
      assert.deepEqual(b, a, `clip ${clip}`);
      assert.deepEqual(c.getState(), js.getState());
      if (clip === Infinity) assert.ok(a.some((x) => Math.abs(x) > 3.5), 'the draws reach the base strip (|x| > R)');
    }
  });

  test('tanh of the native kernels stays within 2 ulp of Math.tanh; NaN and ±∞ handled', () => {
    const blas = load.ok ? load.blas : null!;
    const xs = new Float32Array(200_003);
    for (let i = 0; i < 200_000; i++) xs[i] = -12 + (24 * i) / 200_000;
    xs.set([NaN, Infinity, -Infinity], 200_000);
    const y = new Float32Array(xs.length);
    blas.denseForward([xs], Float32Array.of(1), new Float32Array(0), y, xs.length, 1, 2);
    const ulp = (v: number) => {
      const f = new Float32Array([Math.abs(v)]);
      const u = new Uint32Array(f.buffer);
      u[0] += 1;
      return f[0] - Math.abs(Math.fround(v)) || 1e-45;
    };
    for (let i = 0; i < 200_000; i++) {
      const want = Math.tanh(xs[i]);
      assert.ok(Math.abs(y[i] - want) <= 2 * ulp(want), `tanh(${xs[i]}) = ${y[i]}, want ${want}`);
    }
    assert.ok(Number.isNaN(y[200_000]));
    assert.equal(y[200_001], 1);
    assert.equal(y[200_002], -1);
  });

  test('one step and 60 steps: the same weights, targets, moments, scalars and RNG state as the tfjs step', async () => {
    await initBackend('native');
    const cfg = BcqConfigSchema.parse({
      vaeHidden: [16, 16], actorHidden: [16, 16], criticHidden: [16, 16], batchSize: B, numSamples: N,
      targetUpdateInterval: 2, lambda: 0.75, vaeActionScale: 'standardized',
    });
    const ref = new Bcq(S, A, cfg, new Rng(7));
    const fused = new Bcq(S, A, cfg, new Rng(7));
    for (const b of [ref, fused]) b.setActionSpread([0.5, 0.3, 0.2, 0.1]);
    assert.equal(fused.useFusedStep(load.ok ? load.blas : null!, B), true);
    assert.equal(fused.nextStateRepeats, 0, 'the fused step reads s′ once per row');
    assert.equal(ref.nextStateRepeats, N);
    const initialPTarget = fused.variables().filter(([n]) => n.startsWith('PTarget.')).map(([, v]) => v.dataSync().slice());
    const data = new Rng(3);
    const [r1, r2] = [new Rng(11), new Rng(11)];
    for (let k = 1; k <= 60; k++) {
      const mb = minibatch(data);
      const a = ref.step(mb, r1);
      const b = fused.step(mb, r2);
      tf.dispose(Object.values(mb).filter((t): t is tf.Tensor => t instanceof tf.Tensor));
      if (k === 1) {
        // P′ starts as a clone sharing P's buffers: the in-place update of P must not reach it
        const pt = fused.variables().filter(([n]) => n.startsWith('PTarget.')).map(([, v]) => v.dataSync());
        pt.forEach((x, i) => assert.deepEqual(x, initialPTarget[i]));
      }
      if (k === 1 || k === 60) {
        assert.deepEqual(Object.keys(b), Object.keys(a));
        for (const key of Object.keys(a)) assert.ok(Math.abs(a[key] - b[key]) <= 2e-5 * Math.max(1, Math.abs(a[key])), `step ${k} ${key}: ${a[key]} vs ${b[key]}`);
        const worst = worstRelative(ref.variables(), fused.variables());
        assert.ok(worst.rel <= 2e-5, `step ${k}: ${worst.name} off by ${worst.rel} relative`);
        assert.deepEqual(r2.getState(), r1.getState(), 'the same draws from the RNG');
        assert.deepEqual(fused.counters(), ref.counters());
      }
    }
    ref.dispose();
    fused.dispose();
  });

  test('train(): fused by default on native, the tfjs step with fusedStep false; the same policy to rounding', async () => {
    const batch = syntheticBatch({ n: 400, seed: 3 });
    const run = (fusedStep: boolean) => train({ batch, config: tinyConfig('bcq', { backend: 'native', fusedStep, steps: 40, checkpointEvery: 1000 }), progress: 'none' });
    const a = await run(true);
    const b = await run(false);
    assert.match(a.report.backend, /fused step$/);
    assert.doesNotMatch(b.report.backend, /fused/);
    const states = new Rng(5).fillNormal(new Float32Array(20 * batch.stateDim));
    const pa = a.policy.act(states, 20);
    const pb = b.policy.act(states, 20);
    for (let i = 0; i < pa.length; i++) assert.ok(Math.abs(pa[i] - pb[i]) <= 1e-3 * Math.max(1, Math.abs(pb[i])), `α[${i}]: ${pa[i]} vs ${pb[i]}`);
    a.policy.dispose();
    b.policy.dispose();
  });

  test('per-response critics keep the tfjs step', async () => {
    const batch = syntheticBatch({ n: 200 });
    batch.feedback = { quality: Float32Array.from(batch.reward), click: Float32Array.from(batch.reward, (r) => (r > -0.5 ? 1 : 0)) };
    const responses = [{ name: 'quality', weight: 1, gamma: 0.9 }, { name: 'click', weight: 2, gamma: 0 }];
    const { report, policy } = await train({ batch, config: tinyConfig('bcq', { backend: 'native', steps: 5, responses }), progress: 'none' });
    assert.doesNotMatch(report.backend, /fused/);
    policy.dispose();
  });

  test('bad arguments: a clear error naming the array, nothing written', () => {
    const blas = load.ok ? load.blas : null!;
    const dims = Int32Array.from([2, 1, 2, 1, 1, 0, 1, 3, 4, 1, 4, 1, 1, 3, 1, 1, 3, 1]); // S 2, A 1, L 2, B 1, n 1; one layer each
    const hyper = new Float64Array(17);
    const stats = new Float64Array(8).fill(7);
    assert.throws(() => blas.bcqStep([new Float32Array(3)], dims, hyper, [], stats, new Rng(1).stateWords()), /params\[0\] has 3 values, expected 12/);
    assert.throws(() => blas.bcqStep([], dims, new Float64Array(3), [], stats, new Rng(1).stateWords()), /hyper must be a Float64Array of 17/);
    assert.throws(() => blas.bcqStep([], Int32Array.from([2, 1, 2, 1, 1, 0, 1, 9, 4]), hyper, [], stats, new Rng(1).stateWords()), /inconsistent network dims/);
    assert.deepEqual([...stats], new Array(8).fill(7));
  });
});
