/**
 * Ensemble pessimism (src/rl/ensemble.ts, config `critics`; README §12): each target mode against numbers
 * worked by hand on tiny fixed networks, the default twin pair equal to the pre-ensemble target operation
 * for operation, the config errors naming their field, the actor's Q and its exported form, a sign test
 * (the spread of N critics grows off the data, and TD3 with more pessimism stays nearer the data), and a
 * checkpoint round trip with N = 5.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { Minibatch } from '../../src/rl/algorithm.ts';
import { initBackend } from '../../src/rl/backend.ts';
import { actor, computeTd3Target, Td3, type Td3Networks } from '../../src/rl/baselines/td3.ts';
import { buildBcqNetworks, computeActorLoss, computeCriticLoss, computeTarget, type BcqNetworks } from '../../src/rl/bcq.ts';
import { BcqConfigSchema, CRITICS_DEFAULT, Td3ConfigSchema, type CriticEnsemble } from '../../src/rl/config.ts';
import { actorQ, actorQSpec, drawSubset, pessimisticQ } from '../../src/rl/ensemble.ts';
import { loadPolicy, train } from '../../src/rl/index.ts';
import { createTwinCritic, criticNets, q } from '../../src/rl/networks/critic.ts';
import type { LayerSpec } from '../../src/rl/networks/mlp.ts';
import { perturb } from '../../src/rl/networks/perturbation.ts';
import { decode, type Vae } from '../../src/rl/networks/vae.ts';
import { Rng } from '../../src/rl/rng.ts';
import { near, net, t2 } from './handNets.ts';
import { syntheticBatch, tinyConfig } from './helpers.ts';

const ens = (c: Partial<CriticEnsemble>): CriticEnsemble => ({ ...CRITICS_DEFAULT, ...c });
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('ensemble pessimism: the arithmetic', () => {
  test('backend', async () => {
    await initBackend('cpu');
  });

  test('pessimisticQ: min, subset-min, mean − k·sd, each with worked numbers', () => {
    // N = 4 critics, 2 rows: row 1 = [1, 4, 2, 5], row 2 = [3, 0, 6, −1]
    const qs = [t2([[1], [3]]), t2([[4], [0]]), t2([[2], [6]]), t2([[5], [-1]])];
    near(pessimisticQ(qs, ens({ count: 4 })).dataSync(), [1, -1]);
    // BCQ's λ-mix over the four: 0.75·min + 0.25·max
    near(pessimisticQ(qs, ens({ count: 4 }), 0.75).dataSync(), [0.75 * 1 + 0.25 * 5, 0.75 * -1 + 0.25 * 6]);
    // subset {1, 3}: row 1 min(4, 5) = 4, row 2 min(0, −1) = −1; λ 0.75: 0.75·4 + 0.25·5, 0.75·(−1) + 0.25·0
    const sub = ens({ count: 4, target: 'subset-min', subset: 2 });
    near(pessimisticQ(qs, sub, 1, [1, 3]).dataSync(), [4, -1]);
    near(pessimisticQ(qs, sub, 0.75, [1, 3]).dataSync(), [4.25, -0.75]);
    // mean − 1.5·sd, population sd: row 1 mean 3, var (4 + 1 + 1 + 4)/4 = 2.5; row 2 mean 2, var (1 + 4 + 16 + 9)/4 = 7.5
    near(pessimisticQ(qs, ens({ count: 4, target: 'mean-std', k: 1.5 })).dataSync(), [3 - 1.5 * Math.sqrt(2.5), 2 - 1.5 * Math.sqrt(7.5)]);
    near(pessimisticQ(qs, ens({ count: 4, target: 'mean-std', k: 1.5 })).dataSync(), [0.6282918, -2.1079192]);
    // two critics: mean − sd = min, and mean − (2λ − 1)·sd = Eq. 7's λ-mix (README §12)
    const two = [t2([[1], [3]]), t2([[4], [0]])];
    near(pessimisticQ(two, ens({ target: 'mean-std', k: 1 })).dataSync(), [1, 0]);
    near(pessimisticQ(two, ens({ target: 'mean-std', k: 0.5 })).dataSync(), pessimisticQ(two, ens({}), 0.75).dataSync());
    assert.throws(() => pessimisticQ(two, ens({ count: 3 })), /2 critic values for critics.count 3/);
    assert.throws(() => pessimisticQ(qs, sub, 1, null), /subset-min needs 2/);
  });

  test('subset draws: M distinct sorted indices of N, every index drawn; the other targets draw nothing', () => {
    const rng = new Rng(3);
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const d = drawSubset(ens({ count: 5, target: 'subset-min', subset: 3 }), rng)!;
      assert.equal(d.length, 3);
      assert.ok(d.every((j, k) => j >= 0 && j < 5 && (k === 0 || j > d[k - 1])), `${d}`);
      d.forEach((j) => seen.add(j));
    }
    assert.equal(seen.size, 5);
    const state = rng.getState();
    assert.equal(drawSubset(ens({ count: 5, target: 'mean-std' }), rng), null);
    assert.deepEqual(rng.getState(), state);
  });

  /** losses.test.ts's nets — D(s, z) = tanh(z), ξ = identity, Q1 = 2(a + 1), Q2 = 2 − a — and Q3 = 1.5 − 0.5a. */
  function fixedNets(three: boolean): BcqNetworks {
    const decoder = net([[[0], [1]], [1]], [[[1]], [-1]]);
    const G: Vae = { encoder: net([[[1], [1]], [0]]), mean: net([[[1]], [0]]), logStd: net([[[1]], [0]]), decoder, latentDim: 1 };
    const P = net([[[0], [0]], [0]], [[[0]], [0]]);
    const Q = { q1: net([[[0], [1]], [1]], [[[2]], [0]]), q2: net([[[0], [1]], [1]], [[[-1]], [3]]), ...(three ? { more: [net([[[0], [1]], [1]], [[[-0.5]], [2]])] } : {}) };
    return { G, P, PTarget: P, Q, QTarget: Q };
  }

  test('BCQ target, Eq. (7) over three critics: min, subset-min, mean − k·sd, by hand', () => {
    const nets = fixedNets(true);
    const z = t2([[-0.5], [0.3], [0], [0]]);
    const s2Rep = t2([[0], [0], [0], [0]]);
    const r = t2([[1], [0.5]]);
    const notDone = t2([[1], [0]]);
    const a = [Math.tanh(-0.5), Math.tanh(0.3)]; // the two samples of row 1
    const q1 = a.map((x) => 2 * (x + 1)); // [1.0757657, 2.5826252]
    const q2 = a.map((x) => 2 - x); //       [2.4621172, 1.7086874]
    const q3 = a.map((x) => 1.5 - 0.5 * x); // [1.7310586, 1.3543437]
    const cfg = (critics: CriticEnsemble, lambda = 1) => ({ gamma: 0.95, lambda, rho: 0.15, critics });
    // min over three: [1.0757657, 1.3543437], max over the samples 1.3543437 (the twin pair gave 1.7086874)
    const yMin = computeTarget(nets, r, notDone, s2Rep, z, cfg(ens({ count: 3 })));
    near(yMin.dataSync(), [1 + 0.95 * 1.3543437, 0.5]);
    const mix = (i: number) => 0.75 * Math.min(q1[i], q2[i], q3[i]) + 0.25 * Math.max(q1[i], q2[i], q3[i]);
    near(computeTarget(nets, r, notDone, s2Rep, z, cfg(ens({ count: 3 }), 0.75)).dataSync(), [1 + 0.95 * Math.max(mix(0), mix(1)), 0.5]);
    // subset {0, 1} = the twin pair: 1.7086874
    const sub = ens({ count: 3, target: 'subset-min', subset: 2 });
    near(computeTarget(nets, r, notDone, s2Rep, z, cfg(sub), null, [0, 1]).dataSync(), [1 + 0.95 * 1.7086874, 0.5]);
    // mean − 2·sd over the three, then the max over the samples
    const lcb = (i: number) => {
      const v = [q1[i], q2[i], q3[i]];
      const m = (v[0] + v[1] + v[2]) / 3;
      return m - 2 * Math.sqrt(v.reduce((acc, x) => acc + (x - m) ** 2, 0) / 3);
    };
    near(computeTarget(nets, r, notDone, s2Rep, z, cfg(ens({ count: 3, target: 'mean-std', k: 2 }))).dataSync(), [1 + 0.95 * Math.max(lcb(0), lcb(1)), 0.5]);
  });

  test('the default twin pair: the target is the pre-ensemble one, bit for bit (BCQ λ 1 and 0.75, TD3)', () => {
    const rng = new Rng(5);
    const cfg = BcqConfigSchema.parse({ vaeHidden: [6], actorHidden: [6], criticHidden: [7, 5] });
    const nets = buildBcqNetworks(3, 2, cfg, rng) as BcqNetworks;
    const B = 8;
    const n = 4;
    const rand = (rows: number, cols: number) => tf.tensor2d(rng.fillNormal(new Float32Array(rows * cols)), [rows, cols]);
    const [s2Rep, z, r] = [rand(B * n, 3), rand(B * n, 4), rand(B, 1)];
    const notDone = tf.ones([B, 1]) as tf.Tensor2D;
    for (const lambda of [1, 0.75]) {
      // the target as bcq.ts computed it before ensembles (commit 8533ea5)
      const before = tf.tidy(() => {
        const aNext = perturb(nets.PTarget, s2Rep, decode(nets.G, s2Rep, z), cfg.rho);
        const q1 = q(nets.QTarget.q1, s2Rep, aNext);
        const q2 = q(nets.QTarget.q2, s2Rep, aNext);
        const minQ = tf.minimum(q1, q2);
        const c = lambda === 1 ? minQ : tf.add(tf.mul(lambda, minQ), tf.mul(1 - lambda, tf.maximum(q1, q2)));
        return tf.add(r, tf.mul(0.95, tf.mul(notDone, tf.max(tf.reshape(c, [B, -1]), 1, true))));
      });
      const now = computeTarget(nets, r, notDone, s2Rep, z, { ...cfg, lambda });
      assert.deepEqual(Array.from(now.dataSync()), Array.from(before.dataSync()), `λ = ${lambda}`);
    }
    const td3 = new Td3(3, 2, Td3ConfigSchema.parse({ actorHidden: [6], criticHidden: [7] }), new Rng(6), null);
    const mb = { r, s2: rand(B, 3), notDone, discount: null } as unknown as Minibatch;
    const noise = rand(B, 2);
    const n3 = td3.nets as Td3Networks;
    const before = tf.tidy(() => {
      const aNext = tf.clipByValue(tf.add(actor(n3.muTarget, mb.s2), tf.clipByValue(tf.mul(noise, 0.2), -0.5, 0.5)), -1, 1) as tf.Tensor2D;
      return tf.add(r, tf.mul(0.95, tf.mul(notDone, tf.minimum(q(n3.QTarget.q1, mb.s2, aNext), q(n3.QTarget.q2, mb.s2, aNext)))));
    });
    assert.deepEqual(Array.from(computeTd3Target(n3, mb, noise, td3.cfg).dataSync()), Array.from(before.dataSync()));
    td3.dispose();
  });

  test('TD3 target over three critics, by hand: Q_j = a + c_j, μ′ ≡ 0', () => {
    const mu = net([[[0]], [0]]);
    const Q = { q1: net([[[0], [1]], [3]]), q2: net([[[0], [1]], [5]]), more: [net([[[0], [1]], [1]])] };
    const nets: Td3Networks = { mu, muTarget: mu, Q, QTarget: Q };
    const mb = { r: t2([[1], [2]]), s2: t2([[0], [0]]), notDone: t2([[1], [0]]), discount: null } as unknown as Minibatch;
    const noise = t2([[0], [0]]);
    const cfg = (c: Partial<CriticEnsemble>) => Td3ConfigSchema.parse({ gamma: 0.5, critics: { count: 3, ...c } });
    near(computeTd3Target(nets, mb, noise, cfg({})).dataSync(), [1 + 0.5 * 1, 2]);
    near(computeTd3Target(nets, mb, noise, cfg({ target: 'subset-min', subset: 2 }), [0, 1]).dataSync(), [1 + 0.5 * 3, 2]);
    // values 3, 5, 1: mean 3, population sd √(8/3) = 1.6329932
    near(computeTd3Target(nets, mb, noise, cfg({ target: 'mean-std', k: 2 })).dataSync(), [1 + 0.5 * (3 - 2 * 1.6329932), 2]);
  });

  test('critic loss over N critics and the actor\'s Q: Q1 for the pair, the mean (BCQ) or the aggregate (TD3) beyond', () => {
    const { P, Q } = fixedNets(true);
    const s = t2([[0], [0]]);
    const a = t2([[0], [0.5]]);
    // row 1: Q = 2, 2, 1.5 → 1 + 1 + 0.25; row 2: Q = 3, 1.5, 1.25 → 1 + 0.25 + 0.5625
    near(computeCriticLoss(Q, s, a, t2([[1], [2]]), t2([[1], [1]])).loss.dataSync(), (2.25 + 1.8125) / 2);
    // BCQ's DPG step through the mean (5.5 + 0.5a)/3; with P ≡ 0, ξ = a; its gradient in P's last bias −0.5ρ/3
    near(computeActorLoss(P, Q, s, a, 0.15).dataSync(), -(5.5 + 5.75) / 6);
    const bias = P.layers[1].b;
    near(tf.variableGrads(() => computeActorLoss(P, Q, s, a, 0.15), [bias]).grads[bias.name].dataSync(), -0.5 * 0.15 / 3);
    near(computeActorLoss(P, fixedNets(false).Q, s, a, 0.15).dataSync(), -(2 + 3) / 2); // the pair: Q1
    // TD3's actor: the target's aggregate of the online critics at (s, a) (subset-min: the mean)
    near(actorQ(Q, s, a, ens({ count: 3 })).dataSync(), [1.5, 1.25]);
    near(actorQ(Q, s, a, ens({ count: 3, target: 'subset-min' })).dataSync(), [5.5 / 3, 5.75 / 3]);
    near(actorQ(fixedNets(false).Q, s, a, ens({})).dataSync(), [2, 3]);
  });

  test('actorQSpec: the exported Q of Eq. (4) is the mean of the N critics, exactly', () => {
    const Q = createTwinCritic(3, 2, [5, 4], new Rng(8), 3);
    const rng = new Rng(9);
    const s = rng.fillNormal(new Float32Array(6 * 3));
    const a = rng.fillUniform(new Float32Array(6 * 2), -1, 1);
    const spec = actorQSpec(Q);
    assert.equal(spec[0].outDim, 15, 'three 5-wide first layers side by side');
    const fromSpec = Array.from({ length: 6 }, (_, i) => forward(spec, [...s.subarray(i * 3, i * 3 + 3), ...a.subarray(i * 2, i * 2 + 2)])[0]);
    near(fromSpec, actorQ(Q, t2(rows(s, 3)), t2(rows(a, 2))).dataSync(), 1e-5);
    const mean = tf.div(tf.addN(criticNets(Q).map((m) => q(m, t2(rows(s, 3)), t2(rows(a, 2))))), 3);
    near(fromSpec, mean.dataSync(), 1e-5);
  });
});

describe('ensemble pessimism: config, training and checkpoints', () => {
  const batch = syntheticBatch({ n: 160, stateDim: 3, actionDim: 2 });
  batch.feedback = { click: Float32Array.from(batch.reward, (r) => (r > -0.5 ? 1 : 0)) };

  test('bad configs are input errors naming the field', async () => {
    const bad = async (algo: 'bcq' | 'td3bc', extra: Record<string, unknown>, field: string, message: RegExp) =>
      assert.rejects(train({ batch, config: tinyConfig(algo, extra), progress: 'none' }), (e: Error & { field?: string }) => {
        assert.equal(e.name, 'InputError');
        assert.equal(e.field, field);
        assert.match(e.message, message);
        return true;
      });
    await bad('td3bc', { critics: { count: 3, target: 'subset-min', subset: 4 } }, 'critics.subset', /subset ≤ count/);
    await bad('td3bc', { critics: { count: 1 } }, 'critics.count', /critics\.count/);
    await bad('bcq', { critics: { target: 'max' } }, 'critics.target', /min.*subset-min.*mean-std/);
    await bad('bcq', { critics: { k: -1 } }, 'critics.k', /critics\.k/);
    await bad('td3bc', { critics: { count: 3, spread: 1 } }, 'critics', /spread/);
    await bad('bcq', { lambda: 0.75, critics: { target: 'mean-std' } }, 'lambda', /critics\.k \(k = 0\.5 for this λ\)/);
    await bad('td3bc', { responses: [{ name: 'click', weight: 1, gamma: 0 }], critics: { count: 3 } }, 'critics', /responses: null/);
  });

  test('checkpoint round trip with N = 5: the ensemble and its targets saved, resumed bit for bit, reloaded', async () => {
    for (const [algo, critics] of [['td3bc', { count: 5, target: 'subset-min', subset: 2 }], ['bcq', { count: 5, target: 'mean-std', k: 1 }]] as const) {
      const [full, split] = [mkdtempSync(join(tmpdir(), 'mtf-ens-')), mkdtempSync(join(tmpdir(), 'mtf-ens-'))];
      dirs.push(full, split);
      const cfg = tinyConfig(algo, { steps: 12, checkpointEvery: 6, critics });
      (await train({ batch, config: cfg, outDir: full, progress: 'none' })).policy.dispose();
      const stop = new AbortController();
      (await train({ batch, config: cfg, outDir: split, progress: 'none', signal: stop.signal, onStep: (s) => s === 6 && stop.abort() })).policy.dispose();
      (await train({ batch, config: cfg, outDir: split, resume: true, progress: 'none' })).policy.dispose();
      const manifest = (d: string) => JSON.parse(readFileSync(join(d, 'checkpoints', 'step-000000012', 'manifest.json'), 'utf8'));
      const names = (manifest(full).tensors as { name: string }[]).map((t) => t.name);
      for (const n of ['Q.q5.0.W', 'QTarget.q5.1.b']) assert.ok(names.includes(n), `${algo}: ${n} saved`);
      const bin = (d: string) => readFileSync(join(d, 'checkpoints', 'step-000000012', 'tensors.bin'));
      assert.ok(bin(split).equals(bin(full)), `${algo}: 6 steps + resume = 12 steps, bit for bit`);
      assert.deepEqual(manifest(split).rng, manifest(full).rng);
      const p = await loadPolicy(full, { backend: 'cpu' });
      assert.equal(p.act(batch.state.subarray(0, 15), 5).length, 10);
      p.dispose();
    }
  });
});

test('sign test: N = 5 critics disagree off the data, and TD3 with mean − 2·sd stays nearer the data than with the mean', async (t) => {
  await initBackend('cpu');
  // one constant state, logged actions uniform in [−1, −0.2], reward r = a (more is better, toward actions never logged), s′ = s, γ 0.8
  const run = (k: number) => {
    const cfg = Td3ConfigSchema.parse({ actorHidden: [16], criticHidden: [32], gamma: 0.8, critics: { count: 5, target: 'mean-std', k } });
    const algo = new Td3(1, 1, cfg, new Rng(11), null);
    const rng = new Rng(12);
    const B = 64;
    for (let i = 0; i < 1500; i++) {
      const a = rng.fillUniform(new Float32Array(B), -1, -0.2);
      const mb = { s: tf.zeros([B, 1]), a: tf.tensor2d(a, [B, 1]), r: tf.tensor2d(a, [B, 1]), s2: tf.zeros([B, 1]), notDone: tf.ones([B, 1]), mask: tf.ones([B, 1]), discount: null, s2Rep: null } as unknown as Minibatch;
      algo.step(mb, rng);
      tf.dispose([mb.s, mb.a, mb.r, mb.s2, mb.notDone, mb.mask]);
    }
    const pi = algo.act(Float32Array.of(0), 1)[0];
    const sd = (x: number) => tf.tidy(() => {
      const qs = criticNets((algo.nets as Td3Networks).Q).map((m) => q(m, t2([[0]]), t2([[x]])).dataSync()[0]);
      const m = qs.reduce((u, v) => u + v, 0) / qs.length;
      return Math.sqrt(qs.reduce((u, v) => u + (v - m) ** 2, 0) / qs.length);
    });
    const out = { pi, sdIn: sd(-0.6), sdOut: sd(1) };
    algo.dispose();
    return out;
  };
  const mean = run(0);
  const lcb = run(2);
  t.diagnostic(`k 0: π(s) ${mean.pi.toFixed(3)}, sd at a −0.6 ${mean.sdIn.toFixed(3)}, at +1 ${mean.sdOut.toFixed(3)}; k 2: π(s) ${lcb.pi.toFixed(3)}, sd ${lcb.sdIn.toFixed(3)} / ${lcb.sdOut.toFixed(3)}`);
  assert.ok(mean.sdOut > 2 * mean.sdIn, `the critics disagree more off the data: sd ${mean.sdOut} at +1 vs ${mean.sdIn} at −0.6`);
  assert.ok(lcb.pi < mean.pi - 0.1, `π(s) ${lcb.pi} with k 2 vs ${mean.pi} with k 0: the penalty keeps the actor nearer the logged [−1, −0.2]`);
});

/** Rows of a flat array. */
function rows(x: Float32Array, dim: number): number[][] {
  return Array.from({ length: x.length / dim }, (_, i) => Array.from(x.subarray(i * dim, (i + 1) * dim)));
}

/** A LayerSpec MLP in plain loops (float64). */
function forward(spec: LayerSpec[], x: number[]): number[] {
  let h = x;
  for (const l of spec) {
    const o = Array.from({ length: l.outDim }, (_, j) => l.b[j] + h.reduce((acc, v, i) => acc + v * l.W[i * l.outDim + j], 0));
    h = l.activation === 'relu' ? o.map((v) => Math.max(v, 0)) : l.activation === 'tanh' ? o.map(Math.tanh) : o;
  }
  return h;
}
