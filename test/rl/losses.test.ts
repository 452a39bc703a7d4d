/**
 * Each piece of BCQ's arithmetic against a hand-computed example: tiny networks (1–2 units) with fixed
 * weights, so every expected number below can be followed with pencil and paper (or the Math calls
 * that spell it out). The same tests run on every backend that starts here (cpu, wasm, native).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { Adam } from '../../src/rl/adam.ts';
import { initBackend } from '../../src/rl/backend.ts';
import { Bcq, computeActorLoss, computeCriticLoss, computeTarget, type BcqNetworks } from '../../src/rl/bcq.ts';
import { BcqConfigSchema, type BackendName } from '../../src/rl/config.ts';
import { dense, lerpInto } from '../../src/rl/kernels.ts';
import { loadNativeBlas } from '../../src/rl/native.ts';
import { vaeLoss, type Vae } from '../../src/rl/networks/vae.ts';
import { Rng } from '../../src/rl/rng.ts';
import { near, net, t2 } from './handNets.ts';


const native = loadNativeBlas();
const backends: { name: BackendName; skip: string | false }[] = [
  { name: 'cpu', skip: false },
  { name: 'wasm', skip: false },
  { name: 'native', skip: native.ok ? false : `native backend unavailable: ${native.ok ? '' : native.reason}` },
];

for (const { name, skip } of backends) {
  describe(`BCQ arithmetic on ${name}`, { skip }, () => {
    test('backend starts', async () => {
      const info = await initBackend(name);
      assert.equal(info.name, name);
    });

    test('dense: forward, ReLU mask, and gradients of x, W, b (input as column blocks)', () => {
      // z = [1, 2]·[[0.5, −1], [0.25, 1]] + [0.1, −1.2] = [1.1, −0.2] → ReLU [1.1, 0]
      const W = t2([[0.5, -1], [0.25, 1]]);
      const b = tf.tensor1d([0.1, -1.2]);
      const x1 = t2([[1]]);
      const x2 = t2([[2]]);
      const f = (p: tf.Tensor2D, q: tf.Tensor2D, w: tf.Tensor2D, c: tf.Tensor1D) => tf.sum(dense([p, q], w, c, 'relu'));
      near(dense([x1, x2], W, b, 'relu').dataSync(), [1.1, 0]);
      const [dx1, dx2, dW, db] = tf.grads(f as (...a: tf.Tensor[]) => tf.Tensor)([x1, x2, W, b]);
      // dz = [1, 0]; dW = xᵀ·dz = [[1, 0], [2, 0]]; db = [1, 0]; dx = dz·Wᵀ = [0.5, 0.25]
      near(dW.dataSync(), [1, 0, 2, 0]);
      near(db.dataSync(), [1, 0]);
      near(dx1.dataSync(), [0.5]);
      near(dx2.dataSync(), [0.25]);
      // tanh: y = tanh(1.1), dy/dz = 1 − tanh²(1.1)
      near(dense(tf.concat([x1, x2], 1) as tf.Tensor2D, W, b, 'tanh').dataSync(), [Math.tanh(1.1), Math.tanh(-0.2)]);
      const [gW] = tf.grads((w: tf.Tensor) => tf.sum(dense(tf.concat([x1, x2], 1) as tf.Tensor2D, w as tf.Tensor2D, b, 'tanh')))([W]);
      const d = [1 - Math.tanh(1.1) ** 2, 1 - Math.tanh(-0.2) ** 2];
      near(gW.dataSync(), [d[0], d[1], 2 * d[0], 2 * d[1]]);
      tf.dispose([W, b, x1, x2, dx1, dx2, dW, db, gW]);
    });

    test('VAE loss, Eq. (3): (a − D(s,z))² + KL(N(μ,σ) ‖ N(0,1))', () => {
      // E: h = relu(s + a); μ = 0.5·h; log σ = −1.  D: â = tanh(relu(s + z)).
      const G: Vae = {
        encoder: net([[[1], [1]], [0]]),
        mean: net([[[0.5]], [0]]),
        logStd: net([[[0]], [-1]]),
        decoder: net([[[1], [1]], [0]], [[[1]], [0]]),
        latentDim: 1,
      };
      const s = t2([[0.5]]);
      const a = t2([[0.3]]);
      const eps = t2([[0.2]]);
      const { loss, recon, kl } = vaeLoss(G, s, a, eps, 1, -4, 15);
      // h = 0.8, μ = 0.4, σ = e^−1, z = 0.4 + 0.2·e^−1, â = tanh(0.5 + z)
      const aHat = Math.tanh(0.5 + 0.4 + 0.2 * Math.exp(-1));
      near(recon.dataSync(), (aHat - 0.3) ** 2);
      // KL = −½·(1 + 2·(−1) − 0.4² − e^−2) = 0.6476676
      near(kl.dataSync(), 0.6476676);
      near(loss.dataSync(), (aHat - 0.3) ** 2 + 0.6476676);
      // klWeight scales only the KL term; log σ is clamped before use
      near(vaeLoss(G, s, a, eps, 0.5, -4, 15).loss.dataSync(), (aHat - 0.3) ** 2 + 0.5 * 0.6476676);
      const clamped = vaeLoss(G, s, a, eps, 1, -0.5, 15).kl.dataSync()[0];
      near(clamped, -0.5 * (1 - 1 - 0.16 - Math.exp(-1)));
      // vaeActionScale standardized: the squared error of each action coordinate times its weight 1/σ_j²
      const w = tf.tensor1d([4]);
      const std = vaeLoss(G, s, a, eps, 0.5, -4, 15, w);
      near(std.recon.dataSync(), 4 * (aHat - 0.3) ** 2);
      near(std.loss.dataSync(), 4 * (aHat - 0.3) ** 2 + 0.5 * 0.6476676);
      tf.dispose([s, a, eps, w]);
    });

    /** D(s, z) = tanh(z), ξ = identity (P ≡ 0), Q1 = 2(a + 1), Q2 = 2 − a (for a ∈ (−1, 1)). */
    function fixedNets(): BcqNetworks {
      const decoder = net([[[0], [1]], [1]], [[[1]], [-1]]);
      const G: Vae = { encoder: net([[[1], [1]], [0]]), mean: net([[[1]], [0]]), logStd: net([[[1]], [0]]), decoder, latentDim: 1 };
      const P = net([[[0], [0]], [0]], [[[0]], [0]]);
      const q1 = net([[[0], [1]], [1]], [[[2]], [0]]);
      const q2 = net([[[0], [1]], [1]], [[[-1]], [3]]);
      return { G, P, PTarget: P, Q: { q1, q2 }, QTarget: { q1, q2 } };
    }

    test('target, Eq. (7): max over n perturbed samples of the λ-mix of min/max over the twin targets', () => {
      const nets = fixedNets();
      // two rows, n = 2 samples each: z = [−0.5, 0.3] for row 1, [0, 0] for row 2
      const z = t2([[-0.5], [0.3], [0], [0]]);
      const s2Rep = t2([[0], [0], [0], [0]]);
      const r = t2([[1], [0.5]]);
      const notDone = t2([[1], [0]]);
      const a = [Math.tanh(-0.5), Math.tanh(0.3)];
      const q1 = a.map((x) => 2 * (x + 1)); // [1.0757657, 2.5826252]
      const q2 = a.map((x) => 2 - x); //       [2.4621172, 1.7086874]
      const yMin = computeTarget(nets, r, notDone, s2Rep, z, { gamma: 0.95, lambda: 1, rho: 0.15 });
      // λ = 1: max_i min_j = max(1.0757657, 1.7086874) = 1.7086874; terminal row: y = r
      near(yMin.dataSync(), [1 + 0.95 * Math.max(Math.min(q1[0], q2[0]), Math.min(q1[1], q2[1])), 0.5]);
      near(yMin.dataSync()[0], 2.6232530);
      const mix = (i: number) => 0.75 * Math.min(q1[i], q2[i]) + 0.25 * Math.max(q1[i], q2[i]);
      const yMix = computeTarget(nets, r, notDone, s2Rep, z, { gamma: 0.95, lambda: 0.75, rho: 0.15 });
      near(yMix.dataSync(), [1 + 0.95 * Math.max(mix(0), mix(1)), 0.5]); // mix = [1.4223536, 1.9271719]
      near(yMix.dataSync()[0], 1 + 0.95 * 1.9271719);
      tf.dispose([z, s2Rep, r, notDone, yMin, yMix]);
    });

    test('critic loss: Σ_j mean (Q_j − y)² over rows with a known s′ (truncated rows weigh 0)', () => {
      const { Q } = fixedNets();
      const s = t2([[0], [0]]);
      const a = t2([[0], [0.5]]);
      const y = t2([[1], [2]]);
      // row 1: Q1 = 2, Q2 = 2 → (2−1)² + (2−1)² = 2;  row 2: Q1 = 3, Q2 = 1.5 → 1 + 0.25 = 1.25
      near(computeCriticLoss(Q, s, a, y, t2([[1], [1]])).loss.dataSync(), (2 + 1.25) / 2);
      near(computeCriticLoss(Q, s, a, y, t2([[1], [0]])).loss.dataSync(), 2);
      near(computeCriticLoss(Q, s, a, y, t2([[0], [0]])).loss.dataSync(), 0);
    });

    test('actor loss, Eq. (5): −mean Q1(s, ξ(s, a)), and its gradient through Q1 into P', () => {
      const { P, Q } = fixedNets();
      const s = t2([[0], [0]]);
      const aG = t2([[0], [0.5]]);
      near(computeActorLoss(P, Q.q1, s, aG, 0.15).dataSync(), -(2 + 3) / 2);
      // d(−mean 2(a + ρ·tanh(b) + 1))/db at b = 0 = −2ρ
      const bias = P.layers[1].b;
      const { grads } = tf.variableGrads(() => computeActorLoss(P, Q.q1, s, aG, 0.15), [bias]);
      near(grads[bias.name].dataSync(), -2 * 0.15);
    });

    test('Adam: PyTorch arithmetic of the first two steps', () => {
      const p = tf.variable(tf.tensor1d([1]));
      const opt = new Adam([['p', p]], { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
      // loss = 0.5·p ⇒ g = 0.5; step 1: m̂ = g, v̂ = g² ⇒ p − 0.1·0.5/(0.5 + ε) = 0.9
      opt.minimize(() => tf.mul(0.5, tf.sum(p)) as tf.Scalar).dispose();
      near(p.dataSync(), 0.9);
      near(opt.m[0].dataSync(), 0.05);
      near(opt.v[0].dataSync(), 0.00025);
      opt.minimize(() => tf.mul(0.5, tf.sum(p)) as tf.Scalar).dispose();
      near(p.dataSync(), 0.8);
      opt.dispose();
      p.dispose();
    });

    test('soft target update: θ′ ← η·θ + (1−η)·θ′, and only every L steps', () => {
      const target = tf.variable(tf.tensor1d([0, 4]));
      lerpInto(target, tf.tensor1d([1, 2]), 0.05);
      near(target.dataSync(), [0.05, 0.05 * 2 + 0.95 * 4]);
      target.dispose();

      const cfg = BcqConfigSchema.parse({ vaeHidden: [4], actorHidden: [4], criticHidden: [4], numSamples: 2, batchSize: 4, targetUpdateInterval: 3, eta: 0.05 });
      const rng = new Rng(3);
      const bcq = new Bcq(2, 1, cfg, rng);
      const w0 = Float32Array.from((bcq.nets as BcqNetworks).QTarget.q1.layers[0].W.dataSync());
      const mb = {
        s: tf.randomNormal([4, 2], 0, 1, 'float32', 1) as tf.Tensor2D,
        a: tf.zeros([4, 1]) as tf.Tensor2D,
        r: tf.ones([4, 1]) as tf.Tensor2D,
        s2: tf.zeros([4, 2]) as tf.Tensor2D,
        notDone: tf.ones([4, 1]) as tf.Tensor2D,
        mask: tf.ones([4, 1]) as tf.Tensor2D,
        s2Rep: tf.zeros([8, 2]) as tf.Tensor2D,
      };
      bcq.step(mb, rng);
      bcq.step(mb, rng);
      near((bcq.nets as BcqNetworks).QTarget.q1.layers[0].W.dataSync(), w0, 0); // untouched before step L = 3
      bcq.step(mb, rng);
      const online = (bcq.nets as BcqNetworks).Q.q1.layers[0].W.dataSync();
      near((bcq.nets as BcqNetworks).QTarget.q1.layers[0].W.dataSync(), w0.map((t, i) => 0.05 * online[i] + 0.95 * t));
      bcq.dispose();
      tf.dispose(Object.values(mb));
    });

    test('policy, Eq. (4): the argmax of Q1 over the n perturbed samples', () => {
      const cfg = BcqConfigSchema.parse({ vaeHidden: [1], actorHidden: [1], criticHidden: [1], numSamples: 5, latentDim: 1, zClip: 0.5 });
      const bcq = new Bcq(1, 1, cfg, new Rng(0));
      bcq.dispose();
      const nets = fixedNets();
      Object.assign(bcq.nets, nets); // D(s, z) = tanh(z), ξ = id, Q1 increasing in a
      const rng = new Rng(42);
      const z = new Rng(42).fillNormal(new Float32Array(2 * 5), 0.5);
      const act = bcq.act(Float32Array.from([0, 0]), 2, rng);
      near(act, [Math.tanh(Math.max(...z.subarray(0, 5))), Math.tanh(Math.max(...z.subarray(5, 10)))]);
    });
  });
}
