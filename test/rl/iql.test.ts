/**
 * IQL (src/rl/baselines/iql.ts): each loss against a hand-computed example with tiny fixed networks, the
 * order of one step (V before its update gives the target and the advantages), and a sign test: on a
 * one-step bandit whose reward prefers a = +0.5 among logged actions spread over [−1, 1], the learned
 * policy moves from the logged mean toward it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/rl/backend.ts';
import { advantageWeights, computeIqlActorLoss, computeIqlTarget, expectileLoss, gaussianLogProb, IQL_WEIGHT_MAX, Iql, targetQ } from '../../src/rl/baselines/iql.ts';
import { IqlConfigSchema } from '../../src/rl/config.ts';
import type { Minibatch } from '../../src/rl/algorithm.ts';
import { Rng } from '../../src/rl/rng.ts';
import { near, net, t2 } from './handNets.ts';
import { train } from '../../src/rl/index.ts';
import type { TransitionBatch } from '../../src/data/index.ts';


describe('IQL arithmetic', () => {
  test('backend', async () => {
    await initBackend('cpu');
  });

  test('expectile loss, Eq. (5): |τ − 1(u < 0)|·u², mean over rows', () => {
    // u = [2, −1, 0.5], τ = 0.7: 0.7·4 + 0.3·1 + 0.7·0.25 = 3.275, mean 1.091667
    near(expectileLoss(tf.tensor2d([[2], [-1], [0.5]]), 0.7).dataSync(), [(0.7 * 4 + 0.3 * 1 + 0.7 * 0.25) / 3]);
    // τ = 0.5 is half the squared error
    near(expectileLoss(tf.tensor2d([[2], [-1]]), 0.5).dataSync(), [(0.5 * 4 + 0.5 * 1) / 2]);
    // its gradient in the prediction v (u = y − v): −2|τ − 1(u<0)|·u / B
    const y = tf.tensor2d([[1], [1]]);
    const g = tf.grad((v: tf.Tensor) => expectileLoss(tf.sub(y, v), 0.9))(tf.tensor2d([[0], [3]]));
    near(g.dataSync(), [(-2 * 0.9 * 1) / 2, (-2 * 0.1 * -2) / 2]);
  });

  test('target Q: the smaller twin at the logged action; Eq. (6) bootstraps from V(s′)', () => {
    // Q1(s, a) = s + a, Q2(s, a) = 2s − a
    const QTarget = { q1: net([[[1], [1]], [0]]), q2: net([[[2], [-1]], [0]]) };
    near(targetQ(QTarget, t2([[1], [2]]), t2([[0.5], [-1]])).dataSync(), [Math.min(1.5, 1.5), Math.min(1, 5)]);
    // V(s) = 3s + 1; y = r + γ(1 − done)·V(s′), or with the n-step column r + discount·V(s′)
    const V = net([[[3]], [1]]);
    const mb = { r: t2([[1], [2]]), s2: t2([[1], [0]]), notDone: t2([[1], [0]]), discount: null } as unknown as Minibatch;
    near(computeIqlTarget(V, mb, 0.9).dataSync(), [1 + 0.9 * 4, 2]);
    near(computeIqlTarget(V, { ...mb, discount: t2([[0.5], [0.25]]) } as Minibatch, 0.9).dataSync(), [1 + 0.5 * 4, 2 + 0.25 * 1]);
  });

  test('AWR actor loss, Eq. (7): −mean min(exp(β·A), 100)·log N(a; tanh(MLP(s)), σ²)', () => {
    const w = advantageWeights(t2([[0], [1], [10]]), 3);
    near(w.dataSync(), [1, Math.exp(3), IQL_WEIGHT_MAX]);
    // log N(a; μ, σ²) summed over coordinates: a = [0.5, 0], μ = [0, 0], log σ = [0, ln 2]
    const lp = gaussianLogProb(t2([[0.5, 0]]), t2([[0, 0]]), tf.tensor1d([0, Math.log(2)]));
    near(lp.dataSync(), [-(0.5 * 0.25 + 0.5 * Math.log(2 * Math.PI)) - (Math.log(2) + 0.5 * Math.log(2 * Math.PI))]);
    // μ(s) = tanh(0·s + 0) = 0, log σ = 0: loss = −mean w·(−a²/2 − ½ln 2π)
    const mu = net([[[0]], [0]]);
    const logStd = tf.variable(tf.zeros([1]));
    const loss = computeIqlActorLoss(mu, logStd, t2([[1], [1]]), t2([[0.5], [-1]]), t2([[2], [1]]));
    const c = 0.5 * Math.log(2 * Math.PI);
    near(loss.dataSync(), [-((2 * (-0.125 - c) + 1 * (-0.5 - c)) / 2)]);
  });

  test('one step: V, the critics and the actor all move; counters and target schedule', () => {
    const cfg = IqlConfigSchema.parse({ actorHidden: [4], criticHidden: [4], valueHidden: [4], targetUpdateInterval: 2, batchSize: 8 });
    const algo = new Iql(2, 1, cfg, new Rng(1));
    const rng = new Rng(2);
    const mb = {
      s: tf.tensor2d(rng.fillNormal(new Float32Array(16)), [8, 2]),
      a: tf.tensor2d(rng.fillUniform(new Float32Array(8), -1, 1), [8, 1]),
      r: tf.tensor2d(rng.fillNormal(new Float32Array(8)), [8, 1]),
      s2: tf.tensor2d(rng.fillNormal(new Float32Array(16)), [8, 2]),
      notDone: tf.ones([8, 1]) as tf.Tensor2D,
      mask: tf.ones([8, 1]) as tf.Tensor2D,
      discount: null, s2Rep: null, rR: null, discountR: null, logpB: null,
    } as Minibatch;
    const snapshot = () => new Map(algo.variables().map(([n, v]) => [n, Float32Array.from(v.dataSync())]));
    const before = snapshot();
    const stats = algo.step(mb);
    for (const k of ['valueLoss', 'criticLoss', 'actorLoss', 'qMean', 'qStd', 'targetMean', 'advantageMean', 'weightMean']) assert.ok(Number.isFinite(stats[k]), k);
    const after1 = snapshot();
    const moved = (prefix: string, a: Map<string, Float32Array>, b: Map<string, Float32Array>) =>
      [...a].filter(([n]) => n.startsWith(prefix) && !n.includes('adam')).some(([n, v]) => v.some((x, i) => x !== b.get(n)![i]));
    for (const p of ['V.', 'Q.q1', 'Q.q2', 'mu.', 'logStd']) assert.ok(moved(p, before, after1), `${p} moved`);
    assert.ok(!moved('QTarget', before, after1), 'no target update at step 1 (L = 2)');
    algo.step(mb);
    assert.ok(moved('QTarget', after1, snapshot()), 'target update at step 2');
    assert.deepEqual(algo.counters(), { steps: 2, adamV: 2, adamQ: 2, adamPi: 2 });
    tf.dispose(Object.values(mb).filter((t): t is tf.Tensor => t instanceof tf.Tensor));
    algo.dispose();
  });
});

test('sign test: on a one-step bandit, IQL moves the policy from the logged mean toward the rewarded action', async (t) => {
  // state: one constant feature; logged actions uniform in [−1, 1]; reward −(a − 0.5)²; every session one step
  const n = 4000;
  const rng = new Rng(9);
  const action = rng.fillUniform(new Float32Array(n), -1, 1);
  const batch: TransitionBatch = {
    n, stateDim: 1, actionDim: 1,
    state: new Float32Array(n).fill(1), nextState: new Float32Array(n).fill(1), action,
    reward: Float32Array.from(action, (a) => -((a - 0.5) ** 2)),
    done: new Uint8Array(n).fill(1), truncated: new Uint8Array(n),
    sessionIndex: Int32Array.from({ length: n }, (_, i) => i), step: new Int32Array(n), requestTs: new Float64Array(n),
    actionLogp: new Float32Array(n).fill(NaN), feedback: {}, policyId: null,
    sessionIds: Array.from({ length: n }, (_, i) => `s${i}`),
  };
  const act = async (extra: Record<string, unknown>) => {
    const { policy } = await train({
      batch,
      config: { algo: 'iql', steps: 2000, batchSize: 128, actorHidden: [16], criticHidden: [16], valueHidden: [16], actionInterval: 'data', backend: 'cpu', logEvery: 2000, probeStates: 8, ...extra },
      progress: 'none',
    });
    const [a] = policy.act(Float32Array.of(1), 1);
    policy.dispose();
    return a;
  };
  // the paper's MuJoCo τ, β: the logged mean is 0, AWR weights the rows near 0.5 most
  const mujoco = await act({ expectile: 0.7, temperature: 3 });
  // the defaults (AntMaze's τ 0.9, β 10) weight sharper still, and follow the critic's errors further
  const defaults = await act({});
  t.diagnostic(`π(s) = ${mujoco.toFixed(3)} (τ 0.7, β 3), ${defaults.toFixed(3)} (defaults); logged mean 0, rewarded 0.5`);
  assert.ok(mujoco > 0.25 && mujoco < 0.75, `π(s) = ${mujoco} at τ 0.7, β 3, expected near 0.5`);
  assert.ok(defaults > 0.25 && defaults <= 1, `π(s) = ${defaults} at the defaults, expected well above the logged mean`);
});
