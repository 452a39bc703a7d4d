/**
 * fqe.penaltySupport: the CQL penalty weighted per row by how far π_e(s) lies from the logged actions
 * of similar states (src/ope/ood.ts supportWeights, src/ope/fqe.ts computeFqeLoss with mb.w).
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { FqeConfigSchema } from '../../src/ope/config.ts';
import { computeFqeLoss, fitFqe } from '../../src/ope/fqe.ts';
import { sessionStarts } from '../../src/ope/data.ts';
import { buildNeighbourhoods, supportWeights } from '../../src/ope/ood.ts';
import { constantPolicy, policyActions } from '../../src/ope/policies.ts';
import { createMlp, disposeMlp, initBackend, Rng, type Mlp } from '../../src/ope/rl.ts';
import { chainSessions, identityData, makeBatch } from './helpers.ts';

before(async () => {
  await initBackend('cpu');
});

const close = (a: number, b: number, tol = 1e-5, what = '') => assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b}`);

function linearQ(ws: number, wa: number, b: number): Mlp {
  const net = createMlp([2, 1], new Rng(0));
  net.layers[0].W.assign(tf.tensor2d([[ws], [wa]]));
  net.layers[0].b.assign(tf.tensor1d([b]));
  return net;
}

test('config: penaltySupport is nearest by default (off = the estimator before it); the ramp needs hi > lo', () => {
  const c = FqeConfigSchema.parse({});
  assert.equal(c.penaltySupport, 'nearest');
  assert.equal(FqeConfigSchema.parse({ penaltySupport: 'off' }).penaltySupport, 'off');
  assert.deepEqual(c.supportRamp, [1, 2]);
  assert.throws(() => FqeConfigSchema.parse({ supportRamp: [2, 1] }));
});

test('supportWeights: clamp((d/t − lo)/(hi − lo), 0, 1) of the nearest neighbour-action distance, by hand', () => {
  // 1-D states 0, 1, 2, 3, 10 with actions 0, 0.1, 0.2, 0.3, 5; k = 1 (as the OOD test of estimators.test.ts):
  // neighbours 1, 0, 1, 2, 3; the logged actions' own distances 0.1, 0.1, 0.1, 0.1, 4.7 → threshold (median) t = 0.1.
  const d = identityData(
    makeBatch([{ states: [[0], [1], [2], [3], [10]], actions: [[0], [0.1], [0.2], [0.3], [5]], rewards: [0, 0, 0, 0, 0], end: 'done' }]),
    0.9,
  );
  const nb = buildNeighbourhoods(d, { states: d.n, neighbours: 1, reference: 100, quantile: 0.5, seed: 0 });
  close(nb.threshold, 0.1, 1e-6, 't');
  // two draws per state: draw 0 = logged + 0.05 → d = 0.05, 0.15, 0.15, 0.15, 4.75 → d/t = 0.5, 1.5, 1.5, 1.5, 47.5;
  // draw 1 = logged of the neighbour (d = 0) on rows 0–3, 0.3 + 0.18 on row 4 (d = |0.48 − 0.3| = 0.18 → 1.8).
  const n = d.n;
  const acts = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) acts[i] = d.a[i] + 0.05;
  [0.1, 0, 0.1, 0.2, 0.48].forEach((x, i) => (acts[n + i] = x));
  const w = supportWeights(d, nb, acts, 2, [1, 2]);
  // ramp [1, 2]: w = clamp(d/t − 1, 0, 1)
  const want = [0, 0.5, 0.5, 0.5, 1, 0, 0, 0, 0, 0.8];
  want.forEach((x, i) => close(w[i], x, 1e-5, `w[${i}]`));
  // ramp [0, 1]: w = clamp(d/t, 0, 1)
  const w01 = supportWeights(d, nb, acts, 2, [0, 1]);
  [0.5, 1, 1, 1, 1, 0, 0, 0, 0, 1].forEach((x, i) => close(w01[i], x, 1e-5, `w01[${i}]`));
  // fqe.supportFloor 0.25: w = 0.25 + 0.75·ramp — covered rows keep a quarter of the penalty
  const wf = supportWeights(d, nb, acts, 2, [1, 2], 0.25);
  want.forEach((x, i) => close(wf[i], 0.25 + 0.75 * x, 1e-5, `wf[${i}]`));
  // neighbourhoods of a sample of rows cannot weight every row
  const part = buildNeighbourhoods(d, { states: 3, neighbours: 1, reference: 100, quantile: 0.5, seed: 0 });
  assert.throws(() => supportWeights(d, part, acts, 1, [1, 2]), /every row/);
});

test('weighted penalty: row i\'s term times w_i (still divided by m), linear and logsumexp, by hand', () => {
  const Q = linearQ(1, 2, 0.5);
  // as fqe.test.ts: (s, a) = (1, 0), (2, 1); π_e(s) = 1, 3 → Q(s,a) = 1.5, 4.5; Q(s,π) = 3.5, 8.5; Δ = 2, 4.
  const base = { ss: tf.tensor2d([[1], [2], [1], [2]]), aPi: tf.tensor2d([[0], [1], [1], [3]]), mask: tf.tensor2d([[1], [0]]) };
  const y = tf.tensor2d([[2], [10]]);
  const pen = (w: number[] | null, form: 'linear' | 'logsumexp') =>
    tf.tidy(() => computeFqeLoss(Q, { ...base, w: w ? tf.tensor2d(w, [2, 1]) : null }, y, 0.1, { form, temperature: 2 }).penalty.dataSync()[0]);
  // linear, w = (0.5, 1): 0.1·(0.5·2 + 1·4)/2 = 0.25; w = 1 is the unweighted 0.3; w = 0 is 0.
  close(pen([0.5, 1], 'linear'), 0.25, 1e-6, 'linear weighted');
  close(pen([1, 1], 'linear'), pen(null, 'linear'), 1e-7, 'w = 1');
  close(pen([0, 0], 'linear'), 0, 1e-7, 'w = 0');
  // logsumexp, τ = 2, w = (1, 0): 0.1·2·softplus(1)/2 = 0.1·1.3132617 = 0.13132617
  close(pen([1, 0], 'logsumexp'), 0.13132617, 1e-6, 'logsumexp weighted');
  // gradient: d/dw_a of the penalty with w = (1, 0) = α/m·w₀·σ(Δ₀/τ)·(a_π − a)₀ = 0.05·0.7310586·1
  const g = tf.tidy(() => {
    const v = tf.variableGrads(
      () => computeFqeLoss(Q, { ...base, w: tf.tensor2d([1, 0], [2, 1]) }, y, 0.1, { form: 'logsumexp', temperature: 2 }).penalty,
      [Q.layers[0].W],
    );
    return v.grads[Q.layers[0].W.name].dataSync()[1];
  });
  close(g, 0.05 * 0.7310586, 1e-6, 'd pen/dw_a');
  tf.dispose([base.ss, base.aPi, base.mask, y]);
  disposeMlp(Q);
});

test('fitFqe: weights 0 everywhere = no penalty (α = 0), weights 1 everywhere = the unweighted penalty', async () => {
  const d = identityData(makeBatch(chainSessions(20, 3)), 0.5);
  const ood = await policyActions(constantPolicy([1]), d, 1);
  const starts = sessionStarts(d);
  const cfg = (alpha: number) => FqeConfigSchema.parse({ iterations: 300, batchSize: 32, lr: 3e-3, gamma: 0.5, hidden: [16], alpha, logEvery: 100, perResponse: false });
  const free = fitFqe(d, ood, { cfg: cfg(0), starts }).value[0];
  const zero = fitFqe(d, ood, { cfg: cfg(0.05), starts, penaltyWeights: new Float32Array(d.n) }).value[0];
  const plain = fitFqe(d, ood, { cfg: cfg(0.05), starts }).value[0];
  const ones = fitFqe(d, ood, { cfg: cfg(0.05), starts, penaltyWeights: new Float32Array(d.n).fill(1) }).value[0];
  close(zero, free, 1e-9, 'w = 0');
  close(ones, plain, 1e-9, 'w = 1');
  assert.ok(plain < free - 0.05, `the penalty still acts: ${plain} vs ${free}`);
  assert.throws(() => fitFqe(d, ood, { cfg: cfg(0.05), starts, penaltyWeights: new Float32Array(3) }), /penaltyWeights/);
});
