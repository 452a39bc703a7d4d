/**
 * Per-response critics (config `responses`, TSCAC's multi-critic; src/rl/README.md §7): the per-response
 * n-step columns, Eq. (7) per response with the max over the n samples taken on the weighted sum, the
 * critic and actor losses, Eq. (4) on the weighted sum, the exact Σ_i Q1_i spec for the export, TD3's
 * target, and whole runs (report, no tensor leaks, resume = uninterrupted, errors). Every expected
 * number of the unit tests is written out by hand.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../../src/errors/index.ts';
import { computeTd3ResponseTargets, Td3, type Td3ResponseNetworks } from '../../src/rl/baselines/td3.ts';
import { initBackend } from '../../src/rl/backend.ts';
import {
  Bcq,
  computeResponseActorLoss,
  computeResponseCriticLoss,
  computeResponseTargets,
  type BcqResponseNetworks,
} from '../../src/rl/bcq.ts';
import { BcqConfigSchema, describeConfig, runConfigSchema, Td3BcConfigSchema, Td3ConfigSchema } from '../../src/rl/config.ts';
import { loadPolicy, train, type TrainingReport } from '../../src/rl/index.ts';
import { createResponseTwinCritic, qResponses, sumOfResponsesSpec, type ResponseTwinCritic } from '../../src/rl/networks/critic.ts';
import type { LayerSpec, Mlp } from '../../src/rl/networks/mlp.ts';
import type { Vae } from '../../src/rl/networks/vae.ts';
import { normalizationFromStats } from '../../src/rl/normalization.ts';
import { Rng } from '../../src/rl/rng.ts';
import { targetOptions } from '../../src/rl/targets.ts';
import { prepareData } from '../../src/rl/trainingData.ts';
import { ROOT, runMtf } from '../helpers/cli.ts';
import { identityStats, makeBatch } from '../ope/helpers.ts';
import { syntheticBatch, tinyConfig } from './helpers.ts';

const near = (actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-6) => {
  const a = Array.from(actual);
  assert.equal(a.length, expected.length, `length ${a.length} vs ${expected.length}`);
  a.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) <= tol * Math.max(1, Math.abs(expected[i])), `[${i}] ${v} vs ${expected[i]}`));
};
const net = (...layers: [number[][], number[]][]): Mlp => ({
  layers: layers.map(([W, b]) => ({ W: tf.variable(tf.tensor2d(W)), b: tf.variable(tf.tensor1d(b)) })),
});
const disposeNet = (m: Mlp) => m.layers.forEach((l) => tf.dispose([l.W, l.b]));

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'mtf-rl-resp-'));
  dirs.push(d);
  return d;
};
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Session A: 3 rows, ends; session B: 2 rows, cut at its last row. Feedback: watch 10, 20, 30 | 5, 6; like 1, 0, 1 | 0, 1. */
function twoSessions() {
  const b = makeBatch([
    { states: [[0], [1], [2]], actions: [[0], [0], [0]], rewards: [0, 0, 0], end: 'done', feedback: { watch: [10, 20, 30], like: [1, 0, 1] } },
    { states: [[100], [101]], actions: [[0], [0]], rewards: [0, 0], end: 'cut', feedback: { watch: [5, 6], like: [0, 1] } },
  ]);
  return { b, norm: normalizationFromStats(identityStats(1, 1).state, identityStats(1, 1).action) };
}

/** D(s, z) = tanh(z) (as in losses.test.ts), ξ = identity (P ≡ 0). */
function fixedGP() {
  const decoder = net([[[0], [1]], [1]], [[[1]], [-1]]);
  const G: Vae = { encoder: net([[[1], [1]], [0]]), mean: net([[[1]], [0]]), logStd: net([[[1]], [0]]), decoder, latentDim: 1 };
  const P = net([[[0], [0]], [0]], [[[0]], [0]]);
  return { G, P };
}

/**
 * h = relu(a + 1); Q1 = [2h, 3 − h], Q2 = [3h, 4 − 2h] (responses watch, like), as one two-headed MLP
 * or as two MLPs of one output each: both kinds must give the same numbers.
 */
function fixedCritic(kind: 'multihead' | 'separate'): ResponseTwinCritic {
  const first = (): [number[][], number[]] => [[[0], [1]], [1]];
  if (kind === 'multihead') {
    return { q1: [net(first(), [[[2, -1]], [0, 3]])], q2: [net(first(), [[[3, -2]], [0, 4]])], names: ['watch', 'like'], kind };
  }
  return {
    q1: [net(first(), [[[2]], [0]]), net(first(), [[[-1]], [3]])],
    q2: [net(first(), [[[3]], [0]]), net(first(), [[[-2]], [4]])],
    names: ['watch', 'like'],
    kind,
  };
}

describe('per-response critics', () => {
  before(() => initBackend('cpu'));

  test('config: absent = null (the single critic); names distinct, weights non-zero, γ in [0, 1]; --help-config lists them', () => {
    const cfg = BcqConfigSchema.parse({});
    assert.equal(cfg.responses, null);
    assert.equal(cfg.responseCritic, 'separate');
    const ok = BcqConfigSchema.parse({ responses: [{ name: 'play_time_s', weight: 1, gamma: 0.95 }, { name: 'like', weight: 10, gamma: 0 }] });
    assert.equal(ok.responses!.length, 2);
    assert.throws(() => BcqConfigSchema.parse({ responses: [{ name: 'like', weight: 1, gamma: 0.9 }, { name: 'like', weight: 2, gamma: 0 }] }), /distinct/);
    assert.throws(() => BcqConfigSchema.parse({ responses: [{ name: 'like', weight: 0, gamma: 0.9 }] }), /non-zero/);
    assert.throws(() => BcqConfigSchema.parse({ responses: [{ name: 'like', weight: 1, gamma: 1.5 }] }));
    assert.throws(() => BcqConfigSchema.parse({ responses: [{ name: 'like', weight: 1 }] }), /gamma/);
    assert.throws(() => BcqConfigSchema.parse({ responses: [] }));
    assert.throws(() => BcqConfigSchema.parse({ responses: [{ name: 'like', weight: 1, gamma: 0, scale: 2 }] }), /scale/);
    assert.ok(Td3BcConfigSchema.parse({ responses: [{ name: 'like', weight: 1, gamma: 0 }] }).responses);
    const help = describeConfig(runConfigSchema('bcq')).join('\n');
    assert.match(help, /^responses \(null\): per-response critics \(TSCAC\)/m);
    assert.match(help, /^responseCritic \("separate"\)/m);
    assert.doesNotMatch(describeConfig(runConfigSchema('bc')).join('\n'), /responses/); // BC has no critic
  });

  test('n-step columns per response: own γ_i, κ·w_i, the same windows as r (session end, cut); γ = 0 is the immediate response', () => {
    const { b, norm } = twoSessions();
    const responses = [
      { name: 'watch', weight: 2, gamma: 0.5 },
      { name: 'like', weight: 10, gamma: 0 },
    ];
    const d = prepareData(b, norm, { gamma: 0.9, nStep: 2, rewardScale: 0.1, responses });
    const R = d.responses!;
    assert.equal(R.R, 2);
    // watch (κ·w = 0.2, γ = ½): A0 (10 + ½·20)·0.2 = 4, boot ¼;  A1 (20 + ½·30)·0.2 = 7, the session ends at A2: 0;
    // A2 30·0.2 = 6, terminal;  B0 reaches the cut B1: 5·0.2 = 1, bootstrap from B1's state with ½;  B1 truncated itself: 0
    // like (κ·w = 1, γ = 0): A0 1, A1 0, A2 1, B0 0, B1 1; discount 0^m = 0 everywhere
    near(R.r, [4, 1, 7, 0, 6, 1, 1, 0, 1.2, 1]);
    near(R.discount, [0.25, 0, 0, 0, 0, 0, 0.5, 0, 0, 0]);
    // one-step (nStep 1): r_i = κ·w_i·v_i, discount γ_i·(1 − done)
    const d1 = prepareData(b, norm, { gamma: 0.9, nStep: 1, rewardScale: 1, responses });
    near(d1.responses!.r, [20, 10, 40, 0, 60, 10, 10, 0, 12, 10]);
    near(d1.responses!.discount, [0.5, 0, 0.5, 0, 0, 0, 0.5, 0, 0, 0]);
    // the scalar columns are unchanged by responses
    near(d1.r, prepareData(b, norm, { gamma: 0.9, nStep: 1, rewardScale: 1 }).r);
  });

  test("rewardScale 'auto' with responses: 1 / mean |Σ_i w_i·v_i| over the feedback columns", () => {
    const { b } = twoSessions();
    const cfg = BcqConfigSchema.parse({ responses: [{ name: 'watch', weight: 1, gamma: 0.9 }, { name: 'like', weight: -10, gamma: 0 }] });
    // Σ w v per row: 0, 20, 20, 5, −4 → mean |·| = 49/5
    near([targetOptions(cfg, b.reward, b.feedback).rewardScale], [5 / 49]);
    assert.throws(() => targetOptions(cfg, b.reward), /feedback columns/);
    assert.throws(
      () => targetOptions(BcqConfigSchema.parse({ responses: [{ name: 'likes', weight: 1, gamma: 0 }] }), b.reward, b.feedback),
      (e: Error) => e instanceof InputError && /'likes' is not a feedback column.*it has watch, like/.test(e.message),
    );
  });

  for (const kind of ['multihead', 'separate'] as const) {
    test(`Eq. (7) per response (${kind}): clipped double Q per response, one k* = argmax of the weighted sum, λ-mix`, () => {
      const { G, P } = fixedGP();
      const Q = fixedCritic(kind);
      const nets: BcqResponseNetworks = { G, P, PTarget: P, Q, QTarget: Q };
      // state 0 samples z = −0.5, 0.3; state 1 the same two in the other order (checks the row arithmetic b·n + k*)
      const z = tf.tensor2d([[-0.5], [0.3], [0.3], [-0.5]]);
      const s2Rep = tf.zeros([4, 1]) as tf.Tensor2D;
      const rR = tf.tensor2d([[1, 0.5], [2, 0]]);
      const discountR = tf.tensor2d([[0.5, 1], [0.25, 0.9]]);
      const h = [Math.tanh(-0.5) + 1, Math.tanh(0.3) + 1]; // 0.538, 1.291
      const c = (lambda: number, hk: number) => {
        const mix = (x: number, y: number) => lambda * Math.min(x, y) + (1 - lambda) * Math.max(x, y);
        return [mix(2 * hk, 3 * hk), mix(3 - hk, 4 - 2 * hk)];
      };
      for (const lambda of [1, 0.75]) {
        const [c0, c1] = [c(lambda, h[0]), c(lambda, h[1])];
        // λ = 1: c0 = [1.076, 2.462] (sum 3.54), c1 = [2.583, 1.417] (sum 4.00): k* = 1 for both states, although
        // the like critic alone would pick k = 0 — the max is on the weighted sum, not per response
        assert.ok(c1[0] + c1[1] > c0[0] + c0[1] && c0[1] > c1[1]);
        const y = computeResponseTargets(nets, rR, discountR, s2Rep, z, BcqConfigSchema.parse({ lambda }));
        near(y.dataSync(), [1 + 0.5 * c1[0], 0.5 + 1 * c1[1], 2 + 0.25 * c1[0], 0 + 0.9 * c1[1]]);
        y.dispose();
      }
      tf.dispose([z, s2Rep, rR, discountR]);
      [G.encoder, G.mean, G.logStd, G.decoder, P, ...Q.q1, ...Q.q2].forEach(disposeNet);
    });
  }

  test('critic loss: Σ_j mean over the rows that count of Σ_i (Q_{j,i} − y_i)²; actor loss −mean Σ_i Q1_i(s, ξ)', () => {
    const Q = fixedCritic('multihead');
    const s = tf.zeros([2, 1]) as tf.Tensor2D;
    const a = tf.tensor2d([[0], [1]]); // h = 1, 2: Q1 = [2, 2], [4, 1]; Q2 = [3, 2], [6, 0]
    const y = tf.tensor2d([[1, 1], [5, 0]]);
    // row 0: (2−1)² + (2−1)² + (3−1)² + (2−1)² = 7; row 1: (4−5)² + (1−0)² + (6−5)² + 0 = 3
    for (const [mask, want] of [[[1, 1], 5], [[1, 0], 7]] as const) {
      const m = tf.tensor2d(mask.map((x) => [x]));
      const { loss, q1 } = computeResponseCriticLoss(Q, s, a, y, m);
      near([loss.dataSync()[0]], [want]);
      near(q1.dataSync(), [2, 2, 4, 1]);
      tf.dispose([m, loss, q1]);
    }
    const { P } = fixedGP(); // ξ = a
    const lossP = computeResponseActorLoss(P, Q.q1, s, a, 0.15);
    near([lossP.dataSync()[0]], [-(2 + 2 + 4 + 1) / 2]);
    tf.dispose([s, a, y, lossP]);
    [...Q.q1, ...Q.q2, P].forEach(disposeNet);
  });

  test('policy, Eq. (4), on the weighted sum: Q1 = [h, 3 − 2h] sums to 3 − h, so π picks the smallest sample (Q1_watch alone would pick the largest)', () => {
    const cfg = BcqConfigSchema.parse({
      vaeHidden: [1], actorHidden: [1], criticHidden: [1], numSamples: 5, latentDim: 1, zClip: 0.5,
      responses: [{ name: 'watch', weight: 1, gamma: 0.9 }, { name: 'like', weight: 3, gamma: 0 }],
    });
    const bcq = new Bcq(1, 1, cfg, new Rng(0));
    bcq.dispose();
    const { G, P } = fixedGP();
    const first = (): [number[][], number[]] => [[[0], [1]], [1]];
    const Q: ResponseTwinCritic = { q1: [net(first(), [[[1, -2]], [0, 3]])], q2: [net(first(), [[[1, -2]], [0, 3]])], names: ['watch', 'like'], kind: 'multihead' };
    Object.assign(bcq.nets, { G, P, PTarget: P, Q, QTarget: Q });
    const z = new Rng(42).fillNormal(new Float32Array(2 * 5), 0.5);
    const act = bcq.act(Float32Array.from([0, 0]), 2, new Rng(42));
    near(act, [Math.tanh(Math.min(...z.subarray(0, 5))), Math.tanh(Math.min(...z.subarray(5, 10)))]);
    // q1() is the weighted sum too (what the probe, `mtf truth` and the export see)
    near(bcq.q1(Float32Array.from([0, 0]), Float32Array.from([0, 1]), 2)!, [2, 1]);
    near(bcq.qResponses(Float32Array.from([0]), Float32Array.from([1]), 1)!, [2, -1]);
    [G.encoder, G.mean, G.logStd, G.decoder, P, ...Q.q1].forEach(disposeNet);
  });

  test('the policy spec folds Σ_i Q1_i into one MLP exactly (multihead: heads summed; separate: block-diagonal)', () => {
    const forward = (layers: LayerSpec[], x: number[]) => {
      let h = x;
      for (const l of layers) {
        const o = Array.from({ length: l.outDim }, (_, j) => h.reduce((acc, v, r) => acc + v * l.W[r * l.outDim + j], l.b[j]));
        h = l.activation === 'relu' ? o.map((v) => Math.max(v, 0)) : o;
      }
      return h;
    };
    for (const kind of ['multihead', 'separate'] as const) {
      const c = createResponseTwinCritic(3, 2, [5, 4], ['a', 'b', 'c'], kind, new Rng(9));
      const spec = sumOfResponsesSpec(c.q1);
      assert.equal(spec.at(-1)!.outDim, 1);
      assert.equal(spec[0].outDim, kind === 'multihead' ? 5 : 15);
      const x = new Rng(4).fillNormal(new Float32Array(6 * 5));
      const s = tf.tensor2d(Array.from({ length: 6 }, (_, i) => Array.from(x.subarray(i * 5, i * 5 + 3))));
      const a = tf.tensor2d(Array.from({ length: 6 }, (_, i) => Array.from(x.subarray(i * 5 + 3, i * 5 + 5))));
      const want = tf.tidy(() => tf.sum(qResponses(c.q1, s, a), 1).dataSync());
      const got = Array.from({ length: 6 }, (_, i) => forward(spec, Array.from(x.subarray(i * 5, i * 5 + 5)))[0]);
      near(got, want, 1e-5);
      tf.dispose([s, a]);
      [...c.q1, ...c.q2].forEach(disposeNet);
    }
  });

  test('TD3 target per response: y_i = r_i + discount_i·min_j Q′_{j,i}(s′, ã) at the one smoothed action', () => {
    const mu = net([[[0]], [0]]); // μ ≡ 0
    const Q: ResponseTwinCritic = { q1: [net([[[0], [1]], [3]]), net([[[0], [1]], [1]])], q2: [net([[[0], [1]], [5]]), net([[[0], [1]], [0.5]])], names: ['x', 'y'], kind: 'separate' };
    const nets: Td3ResponseNetworks = { mu, muTarget: mu, Q, QTarget: Q }; // Q1 = [a + 3, a + 1], Q2 = [a + 5, a + 0.5]
    const mb = {
      s: tf.zeros([2, 1]) as tf.Tensor2D,
      a: tf.zeros([2, 1]) as tf.Tensor2D,
      r: tf.zeros([2, 1]) as tf.Tensor2D,
      s2: tf.zeros([2, 1]) as tf.Tensor2D,
      notDone: tf.ones([2, 1]) as tf.Tensor2D,
      mask: tf.ones([2, 1]) as tf.Tensor2D,
      s2Rep: null,
      rR: tf.tensor2d([[1, 2], [3, 4]]),
      discountR: tf.tensor2d([[0.5, 0], [0.25, 1]]),
    };
    const y = computeTd3ResponseTargets(nets, mb, tf.zeros([2, 1]) as tf.Tensor2D, Td3BcConfigSchema.parse({}));
    near(y.dataSync(), [1 + 0.5 * 3, 2, 3 + 0.25 * 3, 4 + 0.5]);
    tf.dispose([y, mb.s, mb.a, mb.r, mb.s2, mb.notDone, mb.mask, mb.rR, mb.discountR]);
    [mu, ...Q.q1, ...Q.q2].forEach(disposeNet);
  });
});

/** The synthetic batch with two feedback columns: quality = the reward (≤ 0), click = 1 where the reward is above its median. */
function batchWithFeedback() {
  const b = syntheticBatch({ n: 200 });
  const sorted = Float32Array.from(b.reward).sort();
  const med = sorted[sorted.length >> 1];
  b.feedback = { quality: Float32Array.from(b.reward), click: Float32Array.from(b.reward, (r) => (r > med ? 1 : 0)) };
  return b;
}
const RESPONSES = [
  { name: 'quality', weight: 1, gamma: 0.9 },
  { name: 'click', weight: 2, gamma: 0 },
];
const latestBin = (out: string) => readFileSync(join(out, 'checkpoints', readFileSync(join(out, 'checkpoints', 'LATEST'), 'utf8').trim(), 'tensors.bin'));

describe('training with per-response critics', () => {
  const batch = batchWithFeedback();

  for (const [algo, kind] of [['bcq', 'multihead'], ['bcq', 'separate'], ['td3bc', 'separate']] as const) {
    test(`${algo} (${kind}): per-response Q in the report and curves, no tensor leaks, reload acts the same`, async () => {
      const config = tinyConfig(algo, { responses: RESPONSES, responseCritic: kind });
      await train({ batch, config: { ...config, steps: 2 }, progress: 'none' }).then((r) => r.policy.dispose()); // warm up kernels
      const before = tf.memory().numTensors;
      const out = tmp();
      const { policy, report } = await train({ batch, config, outDir: out, progress: 'none' });
      const states = batch.state.subarray(0, 5 * batch.stateDim);
      const alpha = policy.act(states, 5);
      const spec = policy.spec();
      if (spec.networks.kind === 'bcq') assert.equal(spec.networks.q1.at(-1)!.outDim, 1);
      policy.dispose();
      assert.equal(tf.memory().numTensors, before);
      const loaded = await loadPolicy(out, { backend: 'cpu' });
      assert.deepEqual(Array.from(loaded.act(states, 5)), Array.from(alpha));
      loaded.dispose();
      assert.equal(tf.memory().numTensors, before);

      const onDisk = JSON.parse(readFileSync(join(out, 'training-report.json'), 'utf8')) as TrainingReport;
      for (const name of ['quality', 'click']) {
        for (const k of [`qMean.${name}`, `targetMean.${name}`, `policyQMean.${name}`]) {
          assert.equal(onDisk.curves.scalars[k]?.length, 4, k);
          assert.ok(Number.isFinite(onDisk.final[k]), `final ${k}`);
        }
      }
      // the click critic has γ = 0: its targets are the clicks themselves (response units), a rate in [0, 1]
      const clickTarget = onDisk.final['targetMean.click'] as number;
      assert.ok(clickTarget >= 0 && clickTarget <= 1, `targetMean.click = ${clickTarget}`);
      // the reported totals are the weighted sums of the per-response ones (reward units)
      const tm = (k: string) => onDisk.final[k] as number;
      near([tm('targetMean')], [tm('targetMean.quality') + 2 * tm('targetMean.click')], 1e-4);
      near([tm('policyQMean')], [tm('policyQMean.quality') + 2 * tm('policyQMean.click')], 1e-4);
      const header = readFileSync(join(out, 'curves.csv'), 'utf8').split('\n')[0];
      assert.match(header, /qMean\.quality/);
      assert.match(header, /policyQMean\.click/);
    });
  }

  test('stop at step 13 + resume = an uninterrupted run, bit for bit, with responses (BCQ and TD3+BC)', async () => {
    for (const algo of ['bcq', 'td3bc'] as const) {
      const [full, resumed] = [tmp(), tmp()];
      const cfg = tinyConfig(algo, { steps: 20, checkpointEvery: 10, logEvery: 4, responses: RESPONSES, responseCritic: 'separate', nStep: 2 });
      (await train({ batch, config: cfg, outDir: full, progress: 'none' })).policy.dispose();
      const stop = new AbortController();
      (await train({ batch, config: cfg, outDir: resumed, progress: 'none', signal: stop.signal, onStep: (s) => s === 13 && stop.abort() })).policy.dispose();
      const second = await train({ batch, config: cfg, outDir: resumed, resume: true, progress: 'none' });
      second.policy.dispose();
      assert.equal(second.report.resumedFrom, 13);
      assert.ok(latestBin(resumed).equals(latestBin(full)), `${algo}: weights, targets and Adam moments equal`);
      const curves = (d: string) => (JSON.parse(readFileSync(join(d, 'training-report.json'), 'utf8')) as TrainingReport).curves;
      assert.deepEqual(curves(resumed), curves(full));
    }
  });

  test('one response equal to r with the run\'s γ (multihead) reproduces the single critic bit for bit (BCQ, TD3+BC)', async () => {
    const b = syntheticBatch({ n: 200 });
    b.feedback = { r: Float32Array.from(b.reward) };
    for (const algo of ['bcq', 'td3bc'] as const) {
      const bins: Buffer[] = [];
      for (const extra of [{}, { responses: [{ name: 'r', weight: 1, gamma: 0.95 }], responseCritic: 'multihead' }]) {
        const out = tmp();
        (await train({ batch: b, config: tinyConfig(algo, { steps: 20, nStep: 3, ...extra }), outDir: out, progress: 'none' })).policy.dispose();
        bins.push(latestBin(out));
      }
      assert.ok(bins[0].equals(bins[1]), `${algo}: same weights, targets and Adam moments`);
    }
  });

  test('with responses the run differs from the single critic, and does not depend on feedback columns it does not name', async () => {
    const run = async (b: typeof batch, extra: Record<string, unknown>) => {
      const out = tmp();
      (await train({ batch: b, config: tinyConfig('bcq', { steps: 10, ...extra }), outDir: out, progress: 'none' })).policy.dispose();
      return latestBin(out);
    };
    const multi = await run(batch, { responses: RESPONSES });
    assert.ok(!multi.equals(await run(batch, {})));
    const extra = batchWithFeedback();
    extra.feedback.unused = new Float32Array(extra.n).fill(7);
    assert.ok(multi.equals(await run(extra, { responses: RESPONSES })));
  });

  test('errors: an unknown response name is an InputError naming it; resume refuses other responses or other feedback', async () => {
    await assert.rejects(
      train({ batch, config: tinyConfig('bcq', { responses: [{ name: 'watch', weight: 1, gamma: 0.9 }] }), progress: 'none' }),
      (e: Error) => e instanceof InputError && /'watch' is not a feedback column/.test(e.message) && /quality, click/.test(e.message),
    );
    await assert.rejects(train({ batch, config: tinyConfig('bc', { responses: RESPONSES }), progress: 'none' }), /Unrecognized key.*responses/);
    const out = tmp();
    (await train({ batch, config: tinyConfig('bcq', { steps: 10, responses: RESPONSES }), outDir: out, progress: 'none' })).policy.dispose();
    const other = RESPONSES.map((r) => ({ ...r, gamma: 0.5 }));
    await assert.rejects(
      train({ batch, config: tinyConfig('bcq', { steps: 20, responses: other }), outDir: out, resume: true, progress: 'none' }),
      (e: Error) => e instanceof InputError && /responses/.test(e.message),
    );
    const changed = batchWithFeedback();
    changed.feedback.click[0] = 1 - changed.feedback.click[0];
    await assert.rejects(
      train({ batch: changed, config: tinyConfig('bcq', { steps: 20, responses: RESPONSES }), outDir: out, resume: true, progress: 'none' }),
      (e: Error) => e instanceof InputError && /data differs/.test(e.message),
    );
  });

  test('the Td3 class reports per-response scalars on its own (TD3 without BC)', () => {
    const cfg = Td3ConfigSchema.parse({ actorHidden: [4], criticHidden: [4], responses: RESPONSES, policyDelay: 1 });
    const td3 = new Td3(4, 2, cfg, new Rng(1), null);
    const mb = {
      s: tf.zeros([3, 4]) as tf.Tensor2D,
      a: tf.zeros([3, 2]) as tf.Tensor2D,
      r: tf.zeros([3, 1]) as tf.Tensor2D,
      s2: tf.zeros([3, 4]) as tf.Tensor2D,
      notDone: tf.ones([3, 1]) as tf.Tensor2D,
      mask: tf.ones([3, 1]) as tf.Tensor2D,
      s2Rep: null,
      rR: tf.tensor2d([[1, 4], [1, 4], [1, 4]]),
      discountR: tf.zeros([3, 2]) as tf.Tensor2D,
    };
    const stats = td3.step(mb, new Rng(2));
    near([stats['targetMean.quality'], stats['targetMean.click'], stats.targetMean], [1, 2, 5]); // y_i / w_i; the sum in critic units
    assert.ok('actorLoss' in stats && 'qMean.click' in stats);
    td3.dispose();
    tf.dispose(Object.values(mb).filter((x) => x !== null));
  });
});

describe('mtf train --config with responses', () => {
  test('a YAML config with responses trains; --help-config lists the fields', () => {
    const dir = tmp();
    const traj = join(dir, 'traj');
    const logs = join(ROOT, 'test', 'fixtures', 'logs', 'duckdb-zstd-list-f32', 'interactions.parquet');
    const ing = runMtf(['ingest', '--logs', logs, '--reward-weights', 'play_time_s=1,like=2,share=4', '--out', traj, '--quiet']);
    assert.equal(ing.code, 0, ing.stderr);
    const cfg = join(dir, 'train.yaml');
    writeFileSync(
      cfg,
      'train:\n  batchSize: 16\n  vaeHidden: [8]\n  actorHidden: [8]\n  criticHidden: [8]\n  numSamples: 3\n  probeStates: 8\n' +
        '  responses:\n    - { name: play_time_s, weight: 1, gamma: 0.95 }\n    - { name: like, weight: 10, gamma: 0 }\n',
    );
    const out = join(dir, 'run');
    const r = runMtf(['train', '--data', traj, '--out', out, '--config', cfg, '--backend', 'cpu', '--steps', '6', '--log-every', '3']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(readFileSync(join(out, 'training-report.json'), 'utf8')) as TrainingReport;
    assert.deepEqual((report.config.responses as { name: string }[]).map((x) => x.name), ['play_time_s', 'like']);
    for (const k of ['qMean.play_time_s', 'qMean.like', 'policyQMean.like']) assert.ok(Number.isFinite(report.final[k]), k);

    writeFileSync(cfg, 'train:\n  responses:\n    - { name: likes, weight: 10, gamma: 0 }\n');
    const bad = runMtf(['train', '--data', traj, '--out', join(dir, 'bad'), '--config', cfg, '--backend', 'cpu', '--steps', '2']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^mtf: config: responses: 'likes' is not a feedback column of the training data \(it has play_time_s, like, share;/);

    const help = runMtf(['train', '--help-config', '--algo', 'td3bc']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^ {2}responses \(null\): per-response critics/m);
    assert.match(help.stdout, /^ {2}responseCritic \("separate"\)/m);
  });
});
