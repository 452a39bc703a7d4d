import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { FqeConfigSchema } from '../../src/ope/config.ts';
import { clipHeads, computeFqeLoss, computeFqeTarget, fitFqe } from '../../src/ope/fqe.ts';
import { sessionStarts } from '../../src/ope/data.ts';
import { behaviorPolicy, constantPolicy, policyActions } from '../../src/ope/policies.ts';
import { createMlp, disposeMlp, initBackend, Rng, type Mlp } from '../../src/ope/rl.ts';
import { chainSessions, identityData, makeBatch } from './helpers.ts';

before(async () => {
  await initBackend('cpu');
});

/** Q(s, a) = w_s·s + w_a·a + b: one linear layer with the weights written out. */
function linearQ(ws: number, wa: number, b: number): Mlp {
  const net = createMlp([2, 1], new Rng(0));
  net.layers[0].W.assign(tf.tensor2d([[ws], [wa]]));
  net.layers[0].b.assign(tf.tensor1d([b]));
  return net;
}

const close = (a: number, b: number, tol = 1e-5, what = '') => assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b}`);

test('Eq. (9) target: y = r + γ(1 − done)·Q′(s′, π_e(s′)), by hand', () => {
  const Q = linearQ(1, 2, 0.5);
  const y = tf.tidy(() =>
    computeFqeTarget(
      Q,
      {
        s2: tf.tensor2d([[1], [3]]),
        aNext: tf.tensor2d([[2], [-1]]),
        r: tf.tensor2d([[1], [4]]),
        notDone: tf.tensor2d([[1], [0]]),
      },
      0.9,
    ).arraySync(),
  );
  // row 0: Q′ = 1·1 + 2·2 + 0.5 = 5.5 → 1 + 0.9·5.5 = 5.95; row 1 is terminal: y = r = 4.
  close(y[0][0], 5.95);
  close(y[1][0], 4);
  disposeMlp(Q);
});

test('Eq. (9) loss: α·(mean Q(s, π_e(s)) − mean Q(s, a)) + ½·masked mean TD², by hand', () => {
  const Q = linearQ(1, 2, 0.5);
  const out = tf.tidy(() => {
    // m = 2 rows: (s, a) = (1, 0), (2, 1); π_e(s) = 1, 3; y = 2, 10; row 1 truncated (mask 0).
    const l = computeFqeLoss(Q, { ss: tf.tensor2d([[1], [2], [1], [2]]), aPi: tf.tensor2d([[0], [1], [1], [3]]), mask: tf.tensor2d([[1], [0]]) }, tf.tensor2d([[2], [10]]), 0.1);
    return [l.loss, l.td, l.penalty].map((t) => t.dataSync()[0]);
  });
  // Q(s,a) = 1.5, 4.5; Q(s,π) = 3.5, 8.5. TD only row 0: ½(1.5 − 2)² / 1 = 0.125.
  // penalty = 0.1·((3.5 + 8.5) − (1.5 + 4.5)) / 2 = 0.3.
  close(out[1], 0.125, 1e-6, 'td');
  close(out[2], 0.3, 1e-6, 'penalty');
  close(out[0], 0.425, 1e-6, 'loss');
  disposeMlp(Q);
});

test('the gradient of Eq. (9) flows through Q(s, a) and Q(s, π_e(s)) but not through the target', () => {
  const Q = linearQ(1, 2, 0.5);
  const { b } = tf.tidy(() => {
    const mb = { ss: tf.tensor2d([[1], [1]]), aPi: tf.tensor2d([[0], [1]]), mask: tf.tensor2d([[1]]) };
    const y = tf.tensor2d([[2]]);
    const g = tf.variableGrads(() => computeFqeLoss(Q, mb, y, 0.1).loss, [Q.layers[0].b]);
    return { b: g.grads[Q.layers[0].b.name].dataSync()[0] };
  });
  // d/db: TD (Q − y) = 1.5 − 2 = −0.5; penalty α·(1 − 1) = 0. Total −0.5.
  close(b, -0.5, 1e-6);
  disposeMlp(Q);
});

test('logsumexp penalty (CQL(H) over {a, π_e(s)}): α·τ·mean softplus((Q(s, π_e(s)) − Q(s, a))/τ), value and gradient by hand', () => {
  const Q = linearQ(1, 2, 0.5);
  const mb = { ss: tf.tensor2d([[1], [2], [1], [2]]), aPi: tf.tensor2d([[0], [1], [1], [3]]), mask: tf.tensor2d([[1], [0]]) };
  const y = tf.tensor2d([[2], [10]]);
  const pen = { form: 'logsumexp' as const, temperature: 2 };
  const out = tf.tidy(() => {
    const l = computeFqeLoss(Q, mb, y, 0.1, pen);
    return [l.loss, l.td, l.penalty].map((t) => t.dataSync()[0]);
  });
  // Q(s,a) = 1.5, 4.5; Q(s,π) = 3.5, 8.5 → Δ/τ = 1, 2. softplus(1) = ln(1 + e) = 1.3132617,
  // softplus(2) = 2.1269280. penalty = 0.1·2·(1.3132617 + 2.1269280)/2 = 0.3440190; TD as before 0.125.
  close(out[2], 0.344019, 1e-6, 'penalty');
  close(out[0], 0.469019, 1e-6, 'loss');
  const g = tf.tidy(() => {
    const v = tf.variableGrads(() => computeFqeLoss(Q, mb, y, 0.1, pen).loss, [Q.layers[0].W, Q.layers[0].b]);
    return { W: v.grads[Q.layers[0].W.name].dataSync(), b: v.grads[Q.layers[0].b.name].dataSync()[0] };
  });
  // ∂pen/∂Q(s,π) = α·σ(Δ/τ)/m, ∂pen/∂Q(s,a) = −α·σ(Δ/τ)/m: the bias cancels, so d/db = TD only = −0.5.
  // d/dw_a = TD (1.5 − 2)·a₀ = 0, plus α/m·Σ σ(Δ/τ)·(a_π − a) = 0.05·(σ(1)·1 + σ(2)·2)
  //        = 0.05·(0.7310586 + 1.7615942) = 0.1246326. d/dw_s = −0.5·1 + 0 (same s on both sides) = −0.5.
  close(g.b, -0.5, 1e-6, 'd/db');
  close(g.W[1], 0.1246326, 1e-6, 'd/dw_a');
  close(g.W[0], -0.5, 1e-6, 'd/dw_s');
  // Far below the logged action's value the penalty switches off (the linear one never does).
  const far = tf.tidy(() => {
    const m2 = { ss: tf.tensor2d([[0], [0]]), aPi: tf.tensor2d([[0], [-10]]), mask: tf.tensor2d([[1]]) };
    const v = tf.variableGrads(() => computeFqeLoss(Q, m2, tf.tensor2d([[0.5]]), 0.1, { form: 'logsumexp', temperature: 0.1 }).penalty, [Q.layers[0].W]);
    return v.grads[Q.layers[0].W.name].dataSync()[1];
  });
  // Δ = Q(0, −10) − Q(0, 0) = −20, Δ/τ = −200: σ = e^−200 ≈ 0.
  close(far, 0, 1e-12, 'gradient far below');
  disposeMlp(Q);
});

test('value clipping: Q′ in the target is clipped per head to [lo, hi] (scaled units), by hand', () => {
  const Q = linearQ(1, 2, 0.5);
  const y = tf.tidy(() =>
    computeFqeTarget(Q, { s2: tf.tensor2d([[1], [-9], [0]]), aNext: tf.tensor2d([[2], [0], [0]]), r: tf.tensor2d([[1], [1], [1]]), notDone: tf.tensor2d([[1], [1], [1]]) }, 0.5, [[0, 4]]).arraySync(),
  );
  // Q′ = 5.5 → clipped to 4: y = 1 + 0.5·4 = 3; Q′ = −8.5 → 0: y = 1; Q′ = 0.5 inside: y = 1.25.
  close(y[0][0], 3);
  close(y[1][0], 1);
  close(y[2][0], 1.25);
  const c = tf.tidy(() => clipHeads(tf.tensor2d([[-1, 5], [2, -3]]), [[0, 1], [-2, 2]]).arraySync());
  assert.deepEqual(c, [[0, 2], [1, -2]]);
  disposeMlp(Q);
});

test('headBounds: [min(0, min v), max(0, max v)]/(1 − γ) per head, in scaled units', () => {
  const sessions = chainSessions(4, 3).map((x, j) => ({ ...x, rewards: x.rewards.map((_, t) => (j === 0 && t === 0 ? -2 : j === 1 && t === 2 ? 4 : 2)) }));
  const d = identityData(makeBatch(sessions), 0.5);
  // mean |r| = (2 + 4 + 10·2)/12 = 26/12 → scale c = (26/12)/(1 − 0.5) = 26/6; bounds [−2, 4]/c/(1 − 0.5) = [−24/26, 48/26].
  close(d.headScale[0], 26 / 6, 1e-6, 'scale');
  close(d.headBounds[0][0], -24 / 26, 1e-6, 'lo');
  close(d.headBounds[0][1], 48 / 26, 1e-6, 'hi');
  // All rewards positive: the lower bound is 0 (a session may end after any step), not min r/(1 − γ).
  const pos = identityData(makeBatch(chainSessions(4, 3)), 0.5);
  close(pos.headBounds[0][0], 0, 0, 'lo with r ≥ 0');
  close(pos.headBounds[0][1], 1, 1e-7, 'hi: r/c/(1 − γ) = 1/2/0.5');
});

const tiny = (extra: Record<string, unknown> = {}) =>
  FqeConfigSchema.parse({ iterations: 1500, batchSize: 32, lr: 3e-3, gamma: 0.5, hidden: [16], alpha: 0, logEvery: 500, perResponse: false, ...extra });

test('FQE recovers a hand-computed value, and a cut session is not treated as terminal', async () => {
  // reward 1 per step, sessions of 3 steps, γ = 0.5: V(s₀) = 1 + 0.5 + 0.25 = 1.75. Half the sessions are
  // cut by the window after 2 steps; treated as terminal they would give V = 1 + 0.5·(1.5 + 1)/2 = 1.625.
  const d = identityData(makeBatch(chainSessions(20, 3, (j) => (j % 2 ? 'cut' : 'done'))), 0.5);
  const acts = await policyActions(behaviorPolicy(), d, 1);
  const before = tf.memory().numTensors;
  const fit = fitFqe(d, acts, { cfg: tiny(), starts: sessionStarts(d), tables: true });
  assert.equal(tf.memory().numTensors, before, 'fitFqe leaves no tensor behind');
  close(fit.value[0], 1.75, 0.04, 'V̂');
  // tables: Q(s, a) of the rows at step 1 ≈ 1.5
  const step1 = [...Array(d.n).keys()].filter((i) => d.batch.step[i] === 1);
  for (const i of step1) close(fit.qData![i], 1.5, 0.06, `Q(s1) row ${i}`);
  assert.equal(fit.curves.step.at(-1), 1500);
  // For the logged policy the penalty is identically 0: π_e(s) is the logged a.
  assert.ok(fit.curves.penalty.every((p) => p === 0));
});

test('the CQL penalty lowers the value of an out-of-distribution policy (and not of the logged one)', async () => {
  // One logged action (0); the evaluated policy plays 1, which the data never shows.
  const d = identityData(makeBatch(chainSessions(20, 3)), 0.5);
  const ood = await policyActions(constantPolicy([1]), d, 1);
  const logged = await policyActions(behaviorPolicy(), d, 1);
  const starts = sessionStarts(d);
  const free = fitFqe(d, ood, { cfg: tiny({ alpha: 0, iterations: 600 }), starts }).value[0];
  const penal = fitFqe(d, ood, { cfg: tiny({ alpha: 0.05, iterations: 600 }), starts }).value[0];
  assert.ok(penal < free - 0.05, `penalised ${penal} should be below unpenalised ${free}`);
  const lf = fitFqe(d, logged, { cfg: tiny({ alpha: 0, iterations: 600 }), starts }).value[0];
  const lp = fitFqe(d, logged, { cfg: tiny({ alpha: 0.05, iterations: 600 }), starts }).value[0];
  close(lp, lf, 1e-9, 'the penalty cancels for the logged policy');
});

test('clipValues keeps V̂ inside the feasible range where the linear penalty drives it below any possible return', async () => {
  // rewards 1 ≥ 0, so no policy's value is below 0; a strong linear penalty on an unseen action is.
  const d = identityData(makeBatch(chainSessions(20, 3)), 0.5);
  const ood = await policyActions(constantPolicy([1]), d, 1);
  const starts = sessionStarts(d);
  const cfg = (clipValues: boolean) => tiny({ alpha: 2, penalty: 'linear', clipValues, iterations: 600 });
  const free = fitFqe(d, ood, { cfg: cfg(false), starts }).value[0];
  const clipped = fitFqe(d, ood, { cfg: cfg(true), starts }).value[0];
  assert.ok(free < 0, `unclipped ${free} should fall below 0`);
  assert.ok(clipped >= 0 && clipped <= 2, `clipped ${clipped} should lie in [0, 1/(1 − γ)] = [0, 2]`);
});

test('per-response heads: Σ w_i·v̂_i ≈ V̂ when r = Σ w_i·v_i', async () => {
  const sessions = chainSessions(20, 3).map((s) => ({ ...s, rewards: s.rewards.map(() => 1 * 2 + 3 * 0.5), feedback: { a: s.rewards.map(() => 2), b: s.rewards.map(() => 0.5) } }));
  const d = identityData(makeBatch(sessions), 0.5, true);
  assert.deepEqual(d.heads, ['reward', 'a', 'b']);
  const acts = await policyActions(behaviorPolicy(), d, 1);
  const v = fitFqe(d, acts, { cfg: tiny({ perResponse: true }), starts: sessionStarts(d) }).value;
  // r = 3.5 per step → V = 3.5·1.75 = 6.125; a: 2·1.75 = 3.5; b: 0.5·1.75 = 0.875.
  close(v[0], 6.125, 0.15, 'reward head');
  close(v[1], 3.5, 0.1, 'head a');
  close(v[2], 0.875, 0.03, 'head b');
  close(v[1] + 3 * v[2], v[0], 0.15, 'Σ w·v̂');
});

test('same seed → same V̂; warm start from a fit continues from its weights', async () => {
  const d = identityData(makeBatch(chainSessions(10, 3)), 0.5);
  const acts = await policyActions(behaviorPolicy(), d, 1);
  const starts = sessionStarts(d);
  const cfg = tiny({ iterations: 200 });
  const a = fitFqe(d, acts, { cfg, starts, keepWeights: true });
  const b = fitFqe(d, acts, { cfg, starts });
  assert.equal(a.value[0], b.value[0]);
  // 1 step of lr 1e-9 from a's weights reads (almost) a's value.
  const c = fitFqe(d, acts, { cfg: tiny({ iterations: 1, lr: 1e-9, averageLast: 0 }), starts, init: a.weights });
  close(c.value[0], a.value[0], 1e-4, 'warm start');
});

test('held-out TD: the TD loss of Eq. (9) on rows never fitted, equal to computeFqeLoss at the start and falling as Q learns', async () => {
  const d = identityData(makeBatch(chainSessions(10, 3)), 0.5);
  const acts = await policyActions(behaviorPolicy(), d, 1);
  const starts = sessionStarts(d);
  // sessions 0–7 are fitted, 8–9 (rows 24–29) held out
  const pool = Int32Array.from({ length: 24 }, (_, i) => i);
  const holdout = Int32Array.from({ length: 6 }, (_, i) => 24 + i);
  const cfg = tiny({ iterations: 1, lr: 1e-12, logEvery: 1, averageLast: 0 });
  const first = fitFqe(d, acts, { cfg, starts, pool, holdout });
  // The same Q by hand: fitFqe draws its initialisation first from Rng(seed); one step of lr 1e-12 leaves it.
  const Q0 = createMlp([d.stateDim + d.actionDim, ...cfg.hidden, 1], new Rng(cfg.seed));
  const byHand = tf.tidy(() => {
    const rows = [...holdout];
    const col = (x: Float32Array, k: number) => tf.tensor2d(rows.map((i) => Array.from(x.subarray(i * k, (i + 1) * k))));
    const y = computeFqeTarget(Q0, { s2: col(d.s2, 1), aNext: col(acts.pi2, 1), r: col(d.y, 1), notDone: col(d.notDone, 1) }, 0.5, d.headBounds);
    const ss = tf.concat([col(d.s, 1), col(d.s, 1)]);
    return computeFqeLoss(Q0, { ss, aPi: tf.concat([col(d.a, 1), col(d.a, 1)]), mask: col(d.mask, 1) }, y, 0).td.dataSync()[0];
  });
  disposeMlp(Q0);
  assert.equal(first.curves.heldOutTd.length, 1);
  close(first.curves.heldOutTd[0], byHand, 1e-6, 'held-out TD at the start');
  const trained = fitFqe(d, acts, { cfg: tiny({ logEvery: 100 }), starts, pool, holdout });
  assert.equal(trained.curves.heldOutTd.length, trained.curves.step.length);
  // deterministic chain: the held-out rows are the fitted ones' twins, so their TD error vanishes too
  assert.ok(trained.curves.heldOutTd.at(-1)! < trained.curves.heldOutTd[0] / 10, `held-out TD ${trained.curves.heldOutTd.join(', ')}`);
  assert.deepEqual(fitFqe(d, acts, { cfg: tiny({ iterations: 10 }), starts }).curves.heldOutTd, [], 'no holdout, no curve');
});
