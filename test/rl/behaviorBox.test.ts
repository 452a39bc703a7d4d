/**
 * Box-aware training (src/rl/behaviorBox.ts, issue 21 §2): the penalties by hand, their place in TD3's
 * target and actor loss and IQL's actor loss, the trainer's checks, and a sign test: on a one-step
 * bandit whose reward keeps rising past the logged box, TD3 without a constraint follows its critic out
 * of the data and the box keeps it near the box's edge.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { TransitionBatch } from '../../src/data/index.ts';
import { InputError } from '../../src/errors/index.ts';
import type { Minibatch } from '../../src/rl/algorithm.ts';
import { initBackend } from '../../src/rl/backend.ts';
import { computeTd3ActorLoss, computeTd3Target, type Td3Networks } from '../../src/rl/baselines/td3.ts';
import { boxActorPenalty, boxExcess, boxTargetValue, normalizedBox, shareOutsideBox } from '../../src/rl/behaviorBox.ts';
import { Td3ConfigSchema } from '../../src/rl/config.ts';
import { train } from '../../src/rl/index.ts';
import { createMlp, type Mlp } from '../../src/rl/networks/mlp.ts';
import { Rng } from '../../src/rl/rng.ts';
import { near, net, t2 } from './handNets.ts';

describe('box penalties by hand', () => {
  test('backend', async () => {
    await initBackend('cpu');
  });

  test('boxExcess = Σ_j relu(|x_j − μ_j| − h_j)², per row', () => {
    // row 0: |0.5 − 0| − 0.3 = 0.2 → 0.04; |−0.2 − 0| − 0.3 < 0 → 0: 0.04
    // row 1: |−1 − 0.1| − 0.3 = 0.8 → 0.64; |0.9 − 0.2| − 0.5 = 0.2 → 0.04: 0.68
    const x = t2([[0.5, -0.2], [-1, 0.9]]);
    const mu = t2([[0, 0], [0.1, 0.2]]);
    near(boxExcess(x, mu, Float32Array.of(0.3, 0.5)).dataSync(), [0.04, 0.68]);
    // inside the box in every coordinate: exactly 0
    assert.deepEqual(Array.from(boxExcess(t2([[0.1, -0.1]]), t2([[0, 0]]), Float32Array.of(0.3, 0.3)).dataSync()), [0]);
  });

  test('h in the learners\' units: 2h / (max − min) per coordinate; a bad length names the field', () => {
    const norm = { stateMean: [0], stateStd: [1], actionMin: [0, -2], actionMax: [10, 2] };
    const b = normalizedBox({ halfWidth: 1, actorWeight: 2, targetWeight: 3 }, norm);
    near(b.half, [0.2, 0.5]);
    assert.equal(b.actorWeight, 2);
    assert.equal(b.targetWeight, 3);
    near(normalizedBox({ halfWidth: [0.5, 0.2], actorWeight: 1, targetWeight: 1 }, norm).half, [0.1, 0.1]);
    assert.throws(() => normalizedBox({ halfWidth: [1, 1, 1], actorWeight: 1, targetWeight: 1 }, norm), (e: unknown) => e instanceof InputError && /behaviorBox\.halfWidth/.test(e.message));
  });

  test('actor penalty = w_π · mean_B boxExcess; target value = Q′ − w_Q·mean|Q′|·boxExcess', () => {
    const box = { half: Float32Array.of(0.3, 0.5), actorWeight: 2, targetWeight: 0.5 };
    const x = t2([[0.5, -0.2], [-1, 0.9]]);
    const mu = t2([[0, 0], [0.1, 0.2]]);
    near(boxActorPenalty(x, mu, box).dataSync(), [(2 * (0.04 + 0.68)) / 2]);
    // Q′ = [4, −2]: mean|Q′| = 3; 4 − 0.5·3·0.04 = 3.94, −2 − 0.5·3·0.68 = −3.02
    near(boxTargetValue(t2([[4], [-2]]), x, mu, box).dataSync(), [3.94, -3.02]);
    near(boxTargetValue(t2([[4], [-2]]), x, mu, { ...box, targetWeight: 0 }).dataSync(), [4, -2]);
  });

  test('shareOutsideBox counts rows with any coordinate outside', () => {
    const a = Float32Array.of(0.1, 0.1, 0.5, 0, 0, -0.31);
    const mu = new Float32Array(6);
    assert.equal(shareOutsideBox(a, mu, 3, Float32Array.of(0.3, 0.3)), 2 / 3);
  });
});

describe('the penalties inside TD3', () => {
  // one-layer linear networks: actor tanh(w·s), critics q_j(s, a) = c_j·a (the state weight 0)
  const linear = (w: number[][], b: number[] = [0]): Mlp => net([w, b]);
  const nets = (): Td3Networks => ({
    mu: linear([[0.5]]),
    muTarget: linear([[1]]),
    Q: { q1: linear([[0], [1]]), q2: linear([[0], [2]]) },
    QTarget: { q1: linear([[0], [1]]), q2: linear([[0], [2]]) },
  });
  const mb = (): Minibatch => ({
    s: t2([[1]]), a: t2([[0]]), r: t2([[0.5]]), s2: t2([[1]]), notDone: t2([[1]]), mask: t2([[1]]), s2Rep: null,
    boxMu: t2([[0]]), boxMu2: t2([[0]]),
  });

  test('target: y = r + γ·(min_j Q′_j(s′, ã) − w_Q·mean|Q′|·excess(ã))', () => {
    const cfg = Td3ConfigSchema.parse({ gamma: 0.9, policyNoise: 0, noiseClip: 0.5 });
    // ã = tanh(1) = 0.76159; min(ã, 2ã) = ã; excess = (ã − 0.2)² with h = 0.2
    const aT = Math.tanh(1);
    const box = { half: Float32Array.of(0.2), actorWeight: 1, targetWeight: 2 };
    const y = computeTd3Target(nets(), mb(), tf.zeros([1, 1]) as tf.Tensor2D, cfg, null, box);
    near(y.dataSync(), [0.5 + 0.9 * (aT - 2 * Math.abs(aT) * (aT - 0.2) ** 2)]);
    near(computeTd3Target(nets(), mb(), tf.zeros([1, 1]) as tf.Tensor2D, cfg).dataSync(), [0.5 + 0.9 * aT]);
  });

  test('actor: the TD3+BC loss + w_π·excess(π(s))', () => {
    const n = nets();
    const pi = Math.tanh(0.5);
    const box = { half: Float32Array.of(0.1), actorWeight: 3 };
    const base = computeTd3ActorLoss(n.mu, n.Q.q1, t2([[1]]), t2([[0]]), 2).dataSync()[0];
    near([base], [-2 * pi + pi * pi]);
    const withBox = computeTd3ActorLoss(n.mu, n.Q.q1, t2([[1]]), t2([[0]]), 2, { settings: { ...box, targetWeight: 0 }, mu: t2([[0]]) }).dataSync()[0];
    near([withBox - base], [3 * (pi - 0.1) ** 2]);
  });
});

/** A one-step bandit: one constant state, logged α ~ U[−0.3, 0.3] around μ = 0, reward r = α (more is better, also past the data). */
function risingBandit(n: number): TransitionBatch {
  const rng = new Rng(5);
  const action = rng.fillUniform(new Float32Array(n), -0.3, 0.3);
  return {
    n, stateDim: 1, actionDim: 1,
    state: new Float32Array(n).fill(1), nextState: new Float32Array(n).fill(1), action,
    reward: Float32Array.from(action),
    done: new Uint8Array(n).fill(1), truncated: new Uint8Array(n),
    sessionIndex: Int32Array.from({ length: n }, (_, i) => i), step: new Int32Array(n), requestTs: new Float64Array(n),
    actionLogp: new Float32Array(n).fill(NaN), feedback: {}, policyId: null,
    sessionIds: Array.from({ length: n }, (_, i) => `s${i}`),
  };
}

describe('the trainer with a behavior box', () => {
  // a fast actor (lrActor 3e-3) so that it reaches wherever its critic points within the test's steps
  const base = { steps: 800, batchSize: 128, actorHidden: [16], criticHidden: [16], lrActor: 3e-3, actionInterval: { min: [-1], max: [1] }, backend: 'cpu', logEvery: 800, probeStates: 8 };

  test('sign test: TD3 leaves the logged box for extrapolated value, the box keeps it near the edge', async (t) => {
    const batch = risingBandit(3000);
    const act = async (extra: Record<string, unknown>, behaviorMean?: Float32Array) => {
      const { policy } = await train({ batch, config: { algo: 'td3', ...base, ...extra }, progress: 'none', behaviorMean });
      const [a] = policy.act(Float32Array.of(1), 1);
      policy.dispose();
      return a;
    };
    const free = await act({});
    const boxed = await act({ behaviorBox: { halfWidth: 0.3, actorWeight: 50 } }, new Float32Array(batch.n));
    t.diagnostic(`π(s) = ${free.toFixed(3)} without the box, ${boxed.toFixed(3)} with it (logged α in [−0.3, 0.3])`);
    assert.ok(free > 0.6, `TD3 without a constraint: π(s) = ${free}, expected it to leave the box for the extrapolated value`);
    assert.ok(boxed > 0.15 && boxed < 0.45, `with the box: π(s) = ${boxed}, expected near the box's edge 0.3`);
  });

  test('IQL takes the box (actor penalty); BCQ refuses it; a missing μ(s) names behaviorBox', async () => {
    const batch = risingBandit(300);
    const { lrActor: _lr, ...rest } = base;
    const small = { ...rest, steps: 20, logEvery: 20 };
    const { policy, report } = await train({ batch, config: { algo: 'iql', ...small, valueHidden: [8], behaviorBox: { halfWidth: 0.3 } }, progress: 'none', behaviorMean: new Float32Array(batch.n) });
    policy.dispose();
    // every logged α lies in [−0.3, 0.3] = the box around μ = 0; half-width 0.3 in normalised units (interval [−1, 1])
    assert.deepEqual(report.behaviorBox?.shareOutside, 0);
    near(report.behaviorBox!.half, [0.3]);
    assert.ok('boxExcess' in report.final || Object.keys(report.curves).some((k) => k === 'boxExcess'), `IQL's curves carry boxExcess: ${Object.keys(report.final).join(', ')}`);
    await assert.rejects(
      train({ batch, config: { algo: 'bcq', ...small, vaeHidden: [8], behaviorBox: { halfWidth: 0.3 } }, progress: 'none', behaviorMean: new Float32Array(batch.n) }),
      (e: unknown) => e instanceof InputError && /behaviorBox: bcq has no box-aware form/.test(e.message),
    );
    await assert.rejects(train({ batch, config: { algo: 'td3', ...small, behaviorBox: { halfWidth: 0.3 } }, progress: 'none' }), (e: unknown) => e instanceof InputError && /behaviorBox needs/.test(e.message));
    await assert.rejects(
      train({ batch, config: { algo: 'td3', ...small, behaviorBox: { halfWidth: 0.3 } }, progress: 'none', behaviorMean: new Float32Array(batch.n).fill(NaN) }),
      (e: unknown) => e instanceof InputError && /behaviorMean: not finite/.test(e.message),
    );
    await assert.rejects(train({ batch, config: { algo: 'td3', ...small, behaviorBox: { halfWidth: -1 } }, progress: 'none' }), (e: unknown) => e instanceof InputError && /behaviorBox\.halfWidth/.test(e.message));
  });
});

// keeps createMlp referenced for readers who extend the hand nets
void createMlp;
