/** The estimator's pieces other than FQE itself, each against numbers worked out by hand. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapInterval, chooseStarts, meanInterval, quantile, resampleCounts, resampleRows, resampleSeed } from '../../src/ope/bootstrap.ts';
import { discountedReturns, prepareOpeData, sessionIndex, sessionStarts, sessionTotals, withQInputs } from '../../src/ope/data.ts';
import { kernelBandwidth, kernelLogDensity, weightedEstimates } from '../../src/ope/importance.ts';
import { meanRelativeError, ranks, regretAt1, spearman } from '../../src/ope/metrics.ts';
import { buildNeighbourhoods, histogramEdges, oodSummary, summarizeActions } from '../../src/ope/ood.ts';
import { normalizeActions, Rng } from '../../src/ope/rl.ts';
import { identityData, makeBatch } from './helpers.ts';

const close = (a: number, b: number, tol = 1e-6, what = '') => assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b}`);

// ---------------------------------------------------------------------------------------------------
// data

test('data: sessions are grouped and step-ordered even when rows are not; next rows, cuts, returns', () => {
  const b = makeBatch([
    { states: [[0], [1], [2]], actions: [[0], [0], [0]], rewards: [1, 2, 4], end: 'done' },
    { states: [[5], [6]], actions: [[0], [0]], rewards: [8, 16], end: 'cut' },
  ]);
  // Shuffle the rows: session 1 first, steps reversed.
  const perm = [4, 3, 2, 1, 0];
  const shuffled = { ...b, sessionIndex: Int32Array.from(perm, (i) => b.sessionIndex[i]), step: Int32Array.from(perm, (i) => b.step[i]) };
  const ix = sessionIndex(shuffled);
  assert.equal(ix.sessions, 2);
  assert.deepEqual([...ix.ptr], [0, 3, 5]);
  assert.deepEqual([...ix.order], [4, 3, 2, 1, 0]);

  const d = identityData(b, 0.5);
  assert.deepEqual([...d.nextRow], [1, 2, -1, 4, -1]);
  assert.deepEqual([...d.sessionCut], [0, 1]);
  assert.deepEqual([...d.mask], [1, 1, 1, 1, 0]);
  assert.deepEqual([...d.notDone], [1, 1, 0, 1, 1]);
  assert.deepEqual([...sessionStarts(d)], [0, 3]);
  // γ = 0.5: 1 + 0.5·2 + 0.25·4 = 3; the cut session: 8 + 0.5·16 = 16.
  assert.deepEqual([...discountedReturns(d, b.reward, 0.5)], [3, 16]);
  // head scale = mean |r| / (1 − γ) = (31 / 5) / 0.5 = 12.4
  close(d.headScale[0], 12.4, 1e-9);
  close(d.y[2], 4 / 12.4, 1e-7);
});

test('data: actions enter Q as the training box maps them (box) or as z-scores (standard), by hand', () => {
  const b = makeBatch([{ states: [[0], [1]], actions: [[2, 5], [4, 5]], rewards: [1, 1], end: 'done' }]);
  const S = { mean: [0], std: [1], min: [-1], max: [1] };
  // train statistics: dim 0 mean 3, std 0.5, box [1, 5]; dim 1 constant (std 0): keeps its box [5, 5]
  const A = { mean: [3, 5], std: [0.5, 0], min: [1, 5], max: [5, 5] };
  const box = prepareOpeData(b, { gamma: 0.5, stats: { state: S, action: A }, perResponse: false });
  // box: 2·(a − min)/(max − min) − 1 → 2 ↦ −0.5, 4 ↦ 0.5; a constant dimension ↦ 0
  assert.deepEqual([...box.a], [-0.5, 0, 0.5, 0]);
  const z = prepareOpeData(b, { gamma: 0.5, stats: { state: S, action: A }, perResponse: false, actionInput: 'standard' });
  // standard: (a − mean)/std → 2 ↦ −2, 4 ↦ 2; the constant dimension still ↦ 0
  assert.deepEqual([...z.a], [-2, 0, 2, 0]);
  // and a policy's actions go through the same map (d.norm), so π_e(s) = the logged a gives the same inputs
  assert.deepEqual([...normalizeActions(Float32Array.from([2, 5, 4, 5]), z.norm)], [-2, 0, 2, 0]);
});

test('data: withQInputs(sessionTotals) appends the running totals of the earlier rows (s) and up to the row (s′), by hand', () => {
  const b = makeBatch([
    { states: [[0], [1], [2]], actions: [[0], [0], [0]], rewards: [1, 2, 4], end: 'done', feedback: { like: [0, 1, 1] } },
    { states: [[5], [6]], actions: [[0], [0]], rewards: [8, 16], end: 'cut', feedback: { like: [1, 0] } },
  ]);
  const plain = identityData(b, 0.5);
  assert.equal(plain.qStateDim, 1);
  assert.equal(plain.qs, plain.s, 'without the option Q reads the state itself');
  const totals = sessionTotals([b.reward, b.feedback.like], plain);
  const raw = Array.from(totals.before);
  const d = withQInputs(plain, totals);
  assert.deepEqual(Array.from(totals.before), raw, 'the caller’s totals are left as they were');
  assert.equal(d.qStateDim, 3, 'state + reward total + like total');
  // reward totals before each row: 0, 1, 3 | 0, 8 → log1p; like totals: 0, 0, 1 | 0, 1 → log1p
  const before = [[0, 1, 3, 0, 8], [0, 0, 1, 0, 1]].map((c) => c.map(Math.log1p));
  const after = [[1, 3, 7, 8, 24], [0, 1, 2, 1, 1]].map((c) => c.map(Math.log1p));
  for (let f = 0; f < 2; f++) {
    const m = before[f].reduce((x, y) => x + y) / 5;
    const sd = Math.sqrt(before[f].reduce((x, y) => x + (y - m) ** 2, 0) / 5);
    for (let i = 0; i < 5; i++) {
      close(d.qs[i * 3], b.state[i], 0, 'the state comes first');
      close(d.qs[i * 3 + 1 + f], (before[f][i] - m) / sd, 1e-6, `row ${i} total ${f} at s`);
      close(d.qs2[i * 3 + 1 + f], (after[f][i] - m) / sd, 1e-6, `row ${i} total ${f} at s′`);
    }
  }
  // the next row's s is this row's s′ (the totals line up along the session)
  for (const i of [0, 1, 3]) for (let c = 0; c < 3; c++) close(d.qs2[i * 3 + c], d.qs[(i + 1) * 3 + c], 1e-6, `row ${i}→${i + 1} col ${c}`);
  // OOD distances and the policies still see the logged state alone; the input data are left as they were
  assert.equal(d.stateDim, 1);
  assert.equal(d.s, plain.s);
  assert.equal(plain.qStateDim, 1);
  assert.throws(() => withQInputs(plain, { before: new Float32Array(4), after: new Float32Array(5), dim: 1 }), /5 × 1/);
});

// ---------------------------------------------------------------------------------------------------
// bootstrap

test('bootstrap: full-size resamples, shared by every policy (seeded by b), rows and starts by hand', () => {
  const c1 = resampleCounts(7, new Rng(resampleSeed(3, 1)));
  const c2 = resampleCounts(7, new Rng(resampleSeed(3, 1)));
  assert.deepEqual([...c1], [...c2]);
  assert.equal(c1.reduce((s, x) => s + x, 0), 7);
  assert.notDeepEqual([...resampleCounts(7, new Rng(resampleSeed(3, 2)))], [...c1]);

  const d = identityData(
    makeBatch([
      { states: [[0], [1]], actions: [[0], [0]], rewards: [1, 1], end: 'done' },
      { states: [[2]], actions: [[0]], rewards: [1], end: 'done' },
      { states: [[3], [4], [5]], actions: [[0], [0], [0]], rewards: [1, 1, 1], end: 'done' },
    ]),
    0.9,
  );
  const { pool, starts } = resampleRows(d, Int32Array.from([2, 0, 1]));
  assert.deepEqual([...pool], [0, 1, 0, 1, 3, 4, 5]);
  assert.deepEqual([...starts], [0, 0, 3]);
});

test('bootstrap interval: V̂ ± 1.96·sd of the replicates; percentiles of type 7', () => {
  const iv = bootstrapInterval(3, [1, 2, 3, 4, 5]);
  close(iv.se, Math.sqrt(2.5));
  close(iv.ci95[0], 3 - 1.959963984540054 * Math.sqrt(2.5));
  close(iv.ci95[1], 3 + 1.959963984540054 * Math.sqrt(2.5));
  close(iv.percentile95[0], 1.1);
  close(iv.percentile95[1], 4.9);
  close(quantile([3, 1, 2], 0.5), 2);
  const m = meanInterval([2, 4]);
  close(m.mean, 3);
  close(m.ci95[1] - 3, 1.959963984540054 * (Math.sqrt(2) / Math.sqrt(2)));
  const s = Int32Array.from([5, 6, 7, 8]);
  assert.equal(chooseStarts(s, 10, new Rng(0)), s);
  const two = chooseStarts(s, 2, new Rng(0));
  assert.equal(new Set(two).size, 2);
  assert.ok([...two].every((x) => x >= 5 && x <= 8));
});

// ---------------------------------------------------------------------------------------------------
// importance sampling

test('kernel bandwidth (Scott) and kernel log-density, by hand', () => {
  const h = kernelBandwidth([1, 2], 16, null);
  close(h[0], 16 ** (-1 / 6));
  close(h[1], 2 * 16 ** (-1 / 6));
  assert.deepEqual(kernelBandwidth([1, 0], 16, 0.5), [0.5, 0.5]);
  // one sample: log N(0; 0, 1) = −½ log 2π
  close(kernelLogDensity(Float32Array.of(0), Float32Array.of(0), 1, 1, 1, [1])[0], -0.5 * Math.log(2 * Math.PI));
  // two samples at 0 and 2: log ½(φ(0) + φ(2))
  const phi = (x: number) => Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
  close(kernelLogDensity(Float32Array.of(0), Float32Array.of(0, 2), 1, 1, 2, [1])[0], Math.log(0.5 * (phi(0) + phi(2))));
});

const isData = (cut: boolean) =>
  identityData(
    makeBatch([
      { states: [[0], [1]], actions: [[0], [0]], rewards: [1, 2], end: 'done' },
      { states: [[5]], actions: [[0]], rewards: [3], end: cut ? 'cut' : 'done' },
    ]),
    0.5,
  );

test('PDWIS and WDR on two sessions, by hand', () => {
  // Session A: weights 2, 1, rewards 1, 2; session B: weight 0.5, reward 3, ended. γ = 0.5.
  const logw = [Math.log(2), 0, Math.log(0.5)];
  const d = isData(false);
  const q = { qData: [2, 2, 3], qPi: [2.5, 1.5, 2] };
  const w = weightedEstimates(d, d.batch.reward, logw, { gamma: 0.5, horizon: 10, q });
  // t0: w̃ = (0.8, 0.2) → 0.8·1 + 0.2·3 = 1.4; t1: ρ = (2, 0.5), B ended (r = 0) → 0.8·2 = 1.6, ×γ → 0.8.
  close(w.pdwis, 2.2);
  // WDR t0: 0.8(1 − 2) + 0.2(3 − 3) + ½·2.5 + ½·2 = 1.45; t1: 0.8(2 − 2) + 0.8·1.5 = 1.2, ×γ → 0.6.
  close(w.wdr!, 2.05);
  close(w.ess[0], 6.25 / 4.25);
  assert.deepEqual(w.observed.slice(0, 2), [2, 2]);
  // B cut by the window: from t1 on it is missing, A alone carries step 1 → 1.4 + 0.5·2 = 2.4.
  const c = isData(true);
  close(weightedEstimates(c, c.batch.reward, logw, { gamma: 0.5, horizon: 10 }).pdwis, 2.4);
  // Resample counts (2, 0): A twice → 1 + 0.5·2 = 2.
  close(weightedEstimates(d, d.batch.reward, logw, { gamma: 0.5, horizon: 10, counts: Int32Array.of(2, 0) }).pdwis, 2);
  // Equal weights: the mean discounted return (A: 1 + 0.5·2 = 2, B: 3 → 2.5).
  close(weightedEstimates(d, d.batch.reward, [0, 0, 0], { gamma: 0.5, horizon: 10 }).pdwis, 2.5);
  // horizon 1: only t0
  close(weightedEstimates(d, d.batch.reward, logw, { gamma: 0.5, horizon: 1 }).pdwis, 1.4);
  // B logged without a density (a control arm's null action_logp → NaN): B is left out, A alone → 2.
  const control = weightedEstimates(d, d.batch.reward, [Math.log(2), 0, NaN], { gamma: 0.5, horizon: 10 });
  close(control.pdwis, 2);
  assert.deepEqual(control.observed.slice(0, 2), [1, 1]);
});

// ---------------------------------------------------------------------------------------------------
// out-of-distribution indicator and action summaries

test('OOD: neighbours, the calibrated threshold and a policy\'s far share, by hand', () => {
  // 1-D states 0, 1, 2, 3, 10 with actions 0, 0.1, 0.2, 0.3, 5; k = 1 (ties: the first row found).
  const d = identityData(
    makeBatch([{ states: [[0], [1], [2], [3], [10]], actions: [[0], [0.1], [0.2], [0.3], [5]], rewards: [0, 0, 0, 0, 0], end: 'done' }]),
    0.9,
  );
  const nb = buildNeighbourhoods(d, { states: 100, neighbours: 1, reference: 100, quantile: 0.5, seed: 0 });
  assert.deepEqual([...nb.neighbours], [1, 0, 1, 2, 3]);
  // own distances ≈ 0.1, 0.1, 0.1, 0.1, 4.7 → median 0.1
  close(nb.threshold, 0.1, 1e-6);
  // policy = logged + 0.05: distances 0.05, 0.15, 0.15, 0.15, 4.75 → 4 of 5 far
  const shifted = Float32Array.from(d.a, (x) => x + 0.05);
  const s = oodSummary(d, nb, shifted);
  close(s.share, 0.8);
  close(s.distance_p50, 0.15, 1e-6);
});

test('action summaries: shared edges, histogram shares, quantiles', () => {
  const x = Float32Array.of(0, 1, 2, 3); // one dim, 4 states
  const edges = histogramEdges([x], 1, 2);
  close(edges[0][0], 0.003, 1e-9); // 0.1% quantile of [0, 3]
  close(edges[0][2], 2.997, 1e-9);
  const s = summarizeActions(x, 1, [[0, 2, 4]]);
  assert.deepEqual(s.histogram[0], [0.5, 0.5]);
  close(s.mean[0], 1.5);
  close(s.std[0], Math.sqrt(1.25));
  close(s.p50[0], 1.5);
});

// ---------------------------------------------------------------------------------------------------
// correlation metrics

test('Spearman (ties averaged), regret@1 and mean relative error, by hand', () => {
  assert.deepEqual(ranks([10, 20, 20, 5]), [2, 3.5, 3.5, 1]);
  close(spearman([1, 2, 3, 4], [10, 20, 30, 40]), 1);
  close(spearman([1, 2, 3, 4], [40, 30, 20, 10]), -1);
  // ranks (1, 2, 3) vs (1, 3, 2): 1 − 6·2/(3·8) = 0.5
  close(spearman([1, 2, 3], [1, 3, 2]), 0.5);
  // the estimate picks policy 2 (truth 20); the best is policy 1 (truth 30)
  assert.equal(regretAt1([1, 2, 3], [10, 30, 20]), 10);
  assert.equal(regretAt1([1, 3, 2], [10, 30, 20]), 0);
  close(meanRelativeError([11, 18], [10, 20]), 0.1);
});
