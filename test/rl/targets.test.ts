/**
 * How the trainer turns logged rows into critic targets (README §3): n-step returns (session end,
 * truncation, session boundaries), the reward scale, and the n-step form of Eq. (7) and the TD3 target.
 * Every expected number is written out by hand.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { computeTd3Target, type Td3Networks } from '../../src/rl/baselines/td3.ts';
import { initBackend } from '../../src/rl/backend.ts';
import { computeTarget, type BcqNetworks } from '../../src/rl/bcq.ts';
import { BcqConfigSchema, Td3ConfigSchema } from '../../src/rl/config.ts';
import type { Mlp } from '../../src/rl/networks/mlp.ts';
import type { Vae } from '../../src/rl/networks/vae.ts';
import { targetOptions } from '../../src/rl/targets.ts';
import { train } from '../../src/rl/trainer.ts';
import { nextStatesOf, prepareData } from '../../src/rl/trainingData.ts';
import { fingerprintBatch } from '../../src/rl/resume.ts';
import { withDerivedNextState } from '../../src/data/trajectoryStore.ts';
import type { TransitionBatch } from '../../src/data/trajectoryTypes.ts';
import { makeBatch, identityStats } from '../ope/helpers.ts';
import { normalizationFromStats } from '../../src/rl/normalization.ts';

const near = (actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-6) => {
  const a = Array.from(actual);
  assert.equal(a.length, expected.length);
  a.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) <= tol * Math.max(1, Math.abs(expected[i])), `[${i}] ${v} vs ${expected[i]}`));
};
const net = (...layers: [number[][], number[]][]): Mlp => ({
  layers: layers.map(([W, b]) => ({ W: tf.variable(tf.tensor2d(W)), b: tf.variable(tf.tensor1d(b)) })),
});

/** Session A: 4 rows, rewards 1..4, ends (done). Session B: 3 rows, rewards 10, 20, 30, cut at its last row. State = [100·session + step]. */
function twoSessions() {
  const b = makeBatch([
    { states: [[0], [1], [2], [3]], actions: [[0], [0], [0], [0]], rewards: [1, 2, 3, 4], end: 'done' },
    { states: [[100], [101], [102]], actions: [[0], [0], [0]], rewards: [10, 20, 30], end: 'cut' },
  ]);
  return { b, norm: normalizationFromStats(identityStats(1, 1).state, identityStats(1, 1).action) };
}

describe('critic targets from logged rows', () => {
  before(() => initBackend('cpu'));

  test('nStep = 1 (the paper): rewards as logged (× rewardScale), s′ as logged, no discount column', () => {
    const { b, norm } = twoSessions();
    const d = prepareData(b, norm, { gamma: 0.5, nStep: 1, rewardScale: 2 });
    assert.equal(d.discount, null);
    near(d.r, [2, 4, 6, 8, 20, 40, 60]);
    near(nextStatesOf(d), [1, 2, 3, 3, 101, 102, 102]);
    near(d.notDone, [1, 1, 1, 0, 1, 1, 1]);
    near(d.mask, [1, 1, 1, 1, 1, 1, 0]);
    // without options: one-step, unscaled (the trainer's behaviour before nStep/rewardScale existed)
    near(prepareData(b, norm).r, [1, 2, 3, 4, 10, 20, 30]);
  });

  test('nStep = 2, γ = 0.5, scale 2: sums of two rewards, γ² bootstrap, early stops at the end and at a cut', () => {
    const { b, norm } = twoSessions();
    const d = prepareData(b, norm, { gamma: 0.5, nStep: 2, rewardScale: 2 });
    // A0: (1 + ½·2)·2 = 4, bootstrap s_A2 with ¼;  A1: (2 + ½·3)·2 = 7, s_A3, ¼
    // A2: (3 + ½·4)·2 = 10, the session ends at A3: no bootstrap;  A3: 4·2 = 8, terminal
    // B0: (10 + ½·20)·2 = 40, s_B2, ¼
    // B1: the window reaches the cut row B2: 20·2 = 40, bootstrap from B2's own state with ½
    // B2: truncated itself: mask 0 (its target is never used)
    near(d.r, [4, 7, 10, 8, 40, 40, 60]);
    near(nextStatesOf(d), [2, 3, 3, 3, 102, 102, 102]);
    near(d.discount!, [0.25, 0.25, 0, 0, 0.25, 0.5, 0]);
    near(d.mask, [1, 1, 1, 1, 1, 1, 0]);
  });

  test('nStep longer than every session: Monte Carlo returns where sessions end, and no window crosses sessions', () => {
    const { b, norm } = twoSessions();
    const d = prepareData(b, norm, { gamma: 0.5, nStep: 50, rewardScale: 1 });
    near(d.r.subarray(0, 4), [1 + 1 + 0.75 + 0.5, 2 + 1.5 + 1, 3 + 2, 4]);
    near(d.discount!.subarray(0, 4), [0, 0, 0, 0]);
    near(d.r.subarray(4), [10 + 10, 20, 30]); // B0 stops at the cut B2 (bootstrap ¼), B1 at once (½)
    near(d.discount!.subarray(4), [0.25, 0.5, 0]);
  });

  test('a gap in a session (missing step) ends the window there, bootstrapping from the logged s′', () => {
    const { b, norm } = twoSessions();
    b.step[2] = 5; // A2 does not follow A1
    const d = prepareData(b, norm, { gamma: 0.5, nStep: 3, rewardScale: 1 });
    near([d.r[0], nextStatesOf(d)[0], d.discount![0]], [1 + 1, 2, 0.25]);
  });

  test('s′ derived from the rows (format 2) gives the same targets as a stored s′, and training never materialises it', async () => {
    /** the same batch with s′ derived (nextState materialised only if read) and a counter of reads */
    const derived = () => {
      const { b } = twoSessions();
      const { nextState: _stored, ...rest } = b;
      const d = withDerivedNextState(rest as TransitionBatch);
      let reads = 0;
      const get = Object.getOwnPropertyDescriptor(d, 'nextState')!.get!;
      Object.defineProperty(d, 'nextState', { get: () => (reads++, get()), enumerable: true, configurable: true });
      return { d, reads: () => reads };
    };
    for (const nStep of [1, 2, 3]) {
      const { b, norm } = twoSessions();
      b.step[2] = 5; // a gap: the window ends there and bootstraps from the logged s′
      const { d } = derived();
      d.step[2] = 5;
      const want = prepareData(b, norm, { gamma: 0.5, nStep, rewardScale: 2 });
      const got = prepareData(d, norm, { gamma: 0.5, nStep, rewardScale: 2 });
      assert.deepEqual(nextStatesOf(got), nextStatesOf(want), `nStep ${nStep}`);
      assert.deepEqual([got.r, got.discount, got.notDone, got.mask], [want.r, want.discount, want.notDone, want.mask]);
      assert.equal(got.s.length, b.n * b.stateDim, 'no second copy of the states');
      assert.equal(want.s.length, 2 * b.n * b.stateDim);
    }
    const { b } = twoSessions();
    const { d, reads } = derived();
    assert.equal(fingerprintBatch(d), fingerprintBatch(b), 'a checkpoint of either resumes on the other');
    const cfg = { algo: 'bcq', steps: 30, batchSize: 5, logEvery: 10, backend: 'cpu', seed: 4, nStep: 2, vaeHidden: [4], actorHidden: [4], criticHidden: [4] };
    const run = async (batch: TransitionBatch, consumeStates = false) => {
      const { policy, report } = await train({ batch, config: cfg, progress: 'none', consumeStates });
      const a = policy.act(new Float32Array([0.5, 101]), 2);
      policy.dispose();
      return { curves: report.curves, a: Array.from(a) };
    };
    const want = await run(b);
    assert.deepEqual(await run(d), want, 'bit-identical training');
    assert.equal(reads(), 0, 'training read nextState');
    const spent = derived();
    const logged = Float32Array.from(spent.d.state);
    assert.deepEqual(await run(spent.d, true), want, 'bit-identical with the states normalised in place');
    assert.notDeepEqual(spent.d.state, logged, 'consumeStates normalised the batch\'s own states');
  });

  test('targetOptions: BC has no target fields (one-step defaults); BCQ/TD3 read theirs', () => {
    assert.deepEqual(targetOptions({} as never), { gamma: 0.95, nStep: 1, rewardScale: 1 });
    // auto: 1 / mean |r|
    assert.equal(targetOptions(BcqConfigSchema.parse({ rewardScale: 'auto' }), [2, -6, 4]).rewardScale, 0.25);
    assert.equal(targetOptions(BcqConfigSchema.parse({ rewardScale: 'auto' }), [0, 0]).rewardScale, 1);
    assert.throws(() => targetOptions(BcqConfigSchema.parse({ rewardScale: 'auto' })), /needs the rewards/);
    const cfg = BcqConfigSchema.parse({ nStep: 4, rewardScale: 0.1, gamma: 0.9 });
    assert.deepEqual(targetOptions(cfg), { gamma: 0.9, nStep: 4, rewardScale: 0.1 });
    assert.throws(() => BcqConfigSchema.parse({ nStep: 0 }));
    assert.throws(() => BcqConfigSchema.parse({ rewardScale: 0 }));
  });

  test('Eq. (7) with n-step rows: y = r + discount·max_i min_j Q′_j (discount = γ^m(1 − done) replaces γ·notDone)', () => {
    // D(s, z) = tanh(z), ξ = identity, Q1 = 2(a + 1), Q2 = 2 − a (the fixed nets of losses.test.ts)
    const decoder = net([[[0], [1]], [1]], [[[1]], [-1]]);
    const G: Vae = { encoder: net([[[1], [1]], [0]]), mean: net([[[1]], [0]]), logStd: net([[[1]], [0]]), decoder, latentDim: 1 };
    const P = net([[[0], [0]], [0]], [[[0]], [0]]);
    const Q = { q1: net([[[0], [1]], [1]], [[[2]], [0]]), q2: net([[[0], [1]], [1]], [[[-1]], [3]]) };
    const nets: BcqNetworks = { G, P, PTarget: P, Q, QTarget: Q };
    const z = tf.tensor2d([[-0.5], [0.3], [0], [0]]);
    const s2Rep = tf.zeros([4, 1]) as tf.Tensor2D;
    const r = tf.tensor2d([[1], [0.5]]);
    const notDone = tf.tensor2d([[1], [1]]);
    const discount = tf.tensor2d([[0.25], [0]]);
    const a = [Math.tanh(-0.5), Math.tanh(0.3)];
    const best = Math.max(...a.map((x) => Math.min(2 * (x + 1), 2 - x)));
    const y = computeTarget(nets, r, notDone, s2Rep, z, BcqConfigSchema.parse({}), discount);
    near(y.dataSync(), [1 + 0.25 * best, 0.5]);
    tf.dispose([z, s2Rep, r, notDone, discount, y]);
  });

  test('TD3 target with n-step rows uses the same discount column', () => {
    const mu = net([[[0]], [0]]); // μ ≡ tanh(0) = 0
    const Q = { q1: net([[[0], [1]], [3]]), q2: net([[[0], [1]], [5]]) }; // Q1 = a + 3, Q2 = a + 5
    const nets: Td3Networks = { mu, muTarget: mu, Q, QTarget: Q };
    const mb = {
      s: tf.zeros([2, 1]) as tf.Tensor2D,
      a: tf.zeros([2, 1]) as tf.Tensor2D,
      r: tf.tensor2d([[1], [2]]),
      s2: tf.zeros([2, 1]) as tf.Tensor2D,
      notDone: tf.tensor2d([[1], [1]]),
      mask: tf.ones([2, 1]) as tf.Tensor2D,
      discount: tf.tensor2d([[0.5], [0.125]]),
      s2Rep: null,
    };
    const y = computeTd3Target(nets, mb, tf.zeros([2, 1]) as tf.Tensor2D, Td3ConfigSchema.parse({}));
    near(y.dataSync(), [1 + 0.5 * 3, 2 + 0.125 * 3]);
    tf.dispose([y, mb.s, mb.a, mb.r, mb.s2, mb.notDone, mb.mask, mb.discount]);
  });

  test('a run reports Q in reward units whatever rewardScale is (rewards ×10 → same order of Q)', async () => {
    const { b } = twoSessions();
    const cfg = { algo: 'td3', steps: 400, batchSize: 7, actorHidden: [4], criticHidden: [8], lrCritic: 1e-2, logEvery: 400, backend: 'cpu', gamma: 0.5, seed: 3 };
    const q = async (extra: Record<string, unknown>) => {
      const { policy, report } = await train({ batch: b, config: { ...cfg, ...extra }, progress: 'none' });
      policy.dispose();
      return report.final.targetMean as number;
    };
    const [plain, scaled] = [await q({ rewardScale: 1 }), await q({ rewardScale: 0.1 })];
    assert.ok(plain > 5 && scaled > 5, `targets in reward units: ${plain}, ${scaled}`);
    assert.ok(Math.abs(plain - scaled) / plain < 0.3, `${plain} vs ${scaled}`);
  });
});
