/**
 * TSCAC (src/rl/tscac.ts, README §7.2): the Gaussian pieces and the stage-two weight (Eq. 15) against
 * hand-computed numbers; stage one moving each auxiliary policy toward its response's optimum and stage
 * two holding the KL bound through its multiplier on a one-step problem with known optima
 * (tscacBandit.ts); the stage boundary, resume = uninterrupted, the config errors; and `mtf train --algo
 * tscac` → `mtf export` end to end, with policy.onnx loaded in onnxruntime.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs';
import { createSession, ManifestSchema, readCurrent, readVersion } from '../../src/export/index.ts';
import { InputError } from '../../src/errors/index.ts';
import { initBackend } from '../../src/rl/backend.ts';
import { runConfigSchema, TscacConfigSchema } from '../../src/rl/config.ts';
import { loadPolicy, train, type Policy } from '../../src/rl/index.ts';
import { normalizationFromStats, dimStats } from '../../src/rl/normalization.ts';
import { Rng } from '../../src/rl/rng.ts';
import { sampleMinibatch } from '../../src/rl/minibatch.ts';
import { targetOptions } from '../../src/rl/targets.ts';
import { prepareData } from '../../src/rl/trainingData.ts';
import { Tscac } from '../../src/rl/tscac.ts';
import { gaussianKl, gaussianLogProb, stageTwoWeights } from '../../src/rl/tscacGaussian.ts';
import { runMtf } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';
import { writeOpeReport } from '../export/helpers.ts';
import { syntheticBatch, tinyConfig } from './helpers.ts';
import { BANDIT_OPTIMA, BANDIT_SIGMA, banditBatch } from './tscacBandit.ts';

const near = (a: number, b: number, tol = 1e-5, what = '') => assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b}`);
const arr = (t: tf.Tensor) => Array.from(t.dataSync());

/** Per-coordinate mean over states of a [n × A] array. */
function colMeans(x: Float32Array, A: number): number[] {
  const n = x.length / A;
  return Array.from({ length: A }, (_, j) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += x[i * A + j];
    return s / n;
  });
}

/** KL(p ‖ q) of diagonal Gaussians averaged over states, computed here in plain JS. */
function meanKl(p: { mean: Float32Array; logStd: Float32Array }, q: { mean: Float32Array; logStd: Float32Array }): number {
  let kl = 0;
  for (let i = 0; i < p.mean.length; i++) {
    const [sp, sq] = [Math.exp(p.logStd[i]), Math.exp(q.logStd[i])];
    kl += Math.log(sq / sp) + (sp * sp + (p.mean[i] - q.mean[i]) ** 2) / (2 * sq * sq) - 0.5;
  }
  return kl / (p.mean.length / 2);
}

describe('TSCAC pieces', () => {
  before(() => initBackend('cpu'));

  test('Gaussian log-density and KL in closed form, against hand-computed values', () => {
    tf.tidy(() => {
      const p = { mean: tf.tensor2d([[0.1, -0.2]]), logStd: tf.tensor2d([[Math.log(0.5), Math.log(0.2)]]) };
      const q = { mean: tf.tensor2d([[0, 0]]), logStd: tf.tensor2d([[0, Math.log(0.4)]]) };
      const lp = -0.5 * ((0.2 / 0.5) ** 2 + (0.3 / 0.2) ** 2) - Math.log(0.5) - Math.log(0.2) - Math.log(2 * Math.PI);
      near(arr(gaussianLogProb(p, tf.tensor2d([[0.3, 0.1]])))[0], lp, 1e-5, 'log π');
      const kl = Math.log(1 / 0.5) + (0.25 + 0.01) / 2 - 0.5 + Math.log(0.4 / 0.2) + (0.04 + 0.04) / (2 * 0.16) - 0.5;
      near(arr(gaussianKl(p, q))[0], kl, 1e-5, 'KL');
      near(arr(gaussianKl(p, p))[0], 0, 1e-6, 'KL(p‖p)');
    });
  });

  test('the stage-two weight is Eq. (15): Π_i (π_i/π_β)^{λ_i/Λ}·exp(A/Λ), mean 1 over the rows that count, clipped', () => {
    const logPiAux = [[-1, 0.5], [0.2, -0.3], [5, 5]];
    const logPiBeta = [[-0.5], [0.1], [0]];
    const adv = [[1], [-2], [9]];
    const lambda = [1, 3]; // Λ = 4, c = (0.25, 0.75)
    const raw = [0, 1].map((b) => Math.exp(0.25 * (logPiAux[b][0] - logPiBeta[b][0]) + 0.75 * (logPiAux[b][1] - logPiBeta[b][0]) + adv[b][0] / 4));
    const mean = (raw[0] + raw[1]) / 2;
    for (const clip of [100, 1.2]) {
      const w = tf.tidy(() =>
        arr(stageTwoWeights({ logPiAux: tf.tensor2d(logPiAux), logPiBeta: tf.tensor2d(logPiBeta), adv: tf.tensor2d(adv), lambda: tf.tensor1d(lambda), mask: tf.tensor2d([[1], [1], [0]]), clip })),
      );
      near(w[0], Math.min(raw[0] / mean, clip), 1e-5, `row 0, clip ${clip}`);
      near(w[1], Math.min(raw[1] / mean, clip), 1e-5, `row 1, clip ${clip}`);
      assert.equal(w[2], 0, 'a truncated row weighs 0');
    }
  });

  test('the served α is the Gaussian mean, and the exported layers compute it', () => {
    const cfg = TscacConfigSchema.parse({ actorHidden: [6], criticHidden: [6], responses: [{ name: 'click', weight: 1, gamma: 0 }] });
    const algo = new Tscac(3, 2, cfg, new Rng(4));
    try {
      const s = new Rng(5).fillNormal(new Float32Array(7 * 3));
      const act = algo.act(s, 7);
      assert.deepEqual(Array.from(act), Array.from(algo.gaussian('main', s, 7).mean));
      const net = algo.policyNetworks();
      assert.equal(net.kind, 'deterministic');
      if (net.kind !== 'deterministic') return;
      assert.deepEqual(net.actor.map((l) => [l.inDim, l.outDim, l.activation]), [[3, 6, 'relu'], [6, 2, 'tanh']]);
      for (let i = 0; i < 7; i++) {
        let h = Array.from(s.subarray(i * 3, i * 3 + 3));
        for (const l of net.actor) {
          const out = Array.from(l.b);
          for (let r = 0; r < l.inDim; r++) for (let o = 0; o < l.outDim; o++) out[o] += h[r] * l.W[r * l.outDim + o];
          h = out.map((v) => (l.activation === 'relu' ? Math.max(v, 0) : l.activation === 'tanh' ? Math.tanh(v) : v));
        }
        h.forEach((v, j) => near(v, act[i * 2 + j], 1e-5, `state ${i}`));
      }
      const ls = algo.gaussian('click', s, 7).logStd;
      assert.ok(ls.every((v) => v >= cfg.policyLogStdMin && v <= cfg.policyLogStdMax));
    } finally {
      algo.dispose();
    }
  });

  test('action_logp reaches the minibatch in normalised units (+ Σ log((max − min)/2)), or not at all', () => {
    const b = banditBatch(50, 3);
    const box = { min: [-2, -2], max: [2, 2] };
    const norm = normalizationFromStats(dimStats(b.state, b.n, 2), { ...dimStats(b.action, b.n, 2), ...box });
    const d = prepareData(b, norm);
    assert.ok(d.logpB);
    near(d.logpB![7], b.actionLogp[7] + 2 * Math.log(2), 1e-5);
    b.actionLogp[3] = NaN;
    assert.equal(prepareData(b, norm).logpB, null);
  });

  test('stage one ends by freezing the cloned behavior; λ stays at lambdaInit without klBound', () => {
    const b = syntheticBatch({ n: 120, stateDim: 3, actionDim: 2 });
    b.feedback = { click: Float32Array.from(b.reward, (r) => (r > -0.5 ? 1 : 0)) };
    const cfg = TscacConfigSchema.parse({ ...pick(tinyConfig('tscac')), batchSize: 16, stageOneSteps: 4, lambdaInit: 0.7 });
    const norm = normalizationFromStats(dimStats(b.state, b.n, 3), dimStats(b.action, b.n, 2));
    const d = prepareData(b, norm, targetOptions(cfg, b.reward, b.feedback));
    const rng = new Rng(1);
    const algo = new Tscac(3, 2, cfg, rng);
    try {
      algo.prepare({ r: d.r, responses: d.responses, logpB: d.logpB ?? null, steps: 10 });
      const s = d.s.subarray(0, 5 * 3);
      const stats: Record<string, number>[] = [];
      let atBoundary: Float32Array | null = null;
      for (let k = 0; k < 6; k++) {
        if (k === 4) atBoundary = algo.gaussian('main', s, 5).mean;
        const mb = sampleMinibatch(d, rng, cfg.batchSize, 0);
        stats.push(algo.step(mb));
        tf.dispose(Object.values(mb).filter((x): x is tf.Tensor => x instanceof tf.Tensor));
      }
      assert.deepEqual(stats.map((x) => x.stage), [1, 1, 1, 1, 2, 2]);
      assert.deepEqual(Array.from(algo.gaussian('behavior', s, 5).mean), Array.from(atBoundary!), 'π_β = π_1 as stage one left it');
      assert.notDeepEqual(Array.from(algo.gaussian('main', s, 5).mean), Array.from(atBoundary!), 'π_1 moves on in stage two');
      near(algo.lambdas()[0], 0.7, 1e-6, 'λ');
      assert.ok(stats[5]['kl.click'] >= 0 && stats[5]['lambda.click'] > 0 && stats[5].weightEss > 0 && stats[5].weightEss <= 1);
    } finally {
      algo.dispose();
    }
  });

  test('config errors are InputErrors naming the field; --help-config documents the fields', async () => {
    const b = syntheticBatch({ n: 60 });
    b.feedback = { click: new Float32Array(60), like: new Float32Array(60) };
    const run = (extra: Record<string, unknown>) => train({ batch: b, config: tinyConfig('tscac', extra), progress: 'none' });
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ mainResponse: 'like' }, /mainResponse: 'like' is not one of the responses \(click\)/],
      [{ mainResponse: 'click' }, /at least one auxiliary/],
      [{ klBound: [0.1, 0.2] }, /klBound: 2 bounds for 1 auxiliary/],
      [{ steps: 6 }, /steps \(6\) must exceed stageOneSteps \(6\)/],
      [{ behaviorDensity: 'logged' }, /behaviorDensity: logged needs a finite action_logp/],
      [{ responses: [{ name: 'share', weight: 1, gamma: 0 }] }, /'share' is not a feedback column/],
    ];
    const before = tf.memory().numTensors;
    for (const [extra, re] of bad) await assert.rejects(run(extra), (e: Error) => e instanceof InputError && re.test(e.message), JSON.stringify(extra));
    assert.equal(tf.memory().numTensors, before, 'nothing left behind by a refused run');
    const help = runMtf(['train', '--help-config', '--algo', 'tscac']);
    assert.equal(help.code, 0, help.stderr);
    for (const f of ['mainResponse', 'stageOneSteps', 'advantageTemperature', 'lambdaInit', 'klBound', 'lambdaLr', 'weightClip', 'behaviorDensity', 'policyLogStdMin', 'policyLogStdMax']) {
      assert.match(help.stdout, new RegExp(`^  ${f} \\(.*\\): .*paper`, 'm'), f);
    }
    assert.ok(Object.keys(runConfigSchema('tscac').shape).includes('responses'));
  });

  test('resume = uninterrupted, bit for bit, across the stage boundary and with the dual update', async () => {
    const b = syntheticBatch({ n: 120, stateDim: 3, actionDim: 2 });
    b.feedback = { click: Float32Array.from(b.reward, (r) => (r > -0.5 ? 1 : 0)) };
    const cfg = tinyConfig('tscac', { steps: 16, checkpointEvery: 5, logEvery: 4, klBound: 0.05, nStep: 2 });
    const s = b.state.subarray(0, 10 * 3);
    const whole = await train({ batch: b, config: cfg, progress: 'none' });
    const out = tempDir('mtf-tscac-resume-');
    const stop = new AbortController(); // stopped in stage one (a run must ask for more steps than stage one has)
    const first = await train({ batch: b, config: cfg, outDir: out, progress: 'none', signal: stop.signal, onStep: (k) => k === 5 && stop.abort() });
    assert.equal(first.report.status, 'stopped');
    assert.equal(first.report.stepsDone, 5);
    first.policy.dispose();
    const resumed = await train({ batch: b, config: cfg, outDir: out, resume: true, progress: 'none' });
    assert.deepEqual(Array.from(resumed.policy.act(s, 10)), Array.from(whole.policy.act(s, 10)));
    assert.deepEqual(resumed.report.final, whole.report.final);
    whole.policy.dispose();
    resumed.policy.dispose();
  });
});

/** The algorithm fields of a tinyConfig (TscacConfigSchema is strict). */
function pick(c: Record<string, unknown>): Record<string, unknown> {
  const keys = Object.keys(TscacConfigSchema.shape);
  return Object.fromEntries(Object.entries(c).filter(([k]) => keys.includes(k)));
}

describe('TSCAC on a one-step problem with known optima', () => {
  const batch = banditBatch(2000, 1);
  const states = batch.state.subarray(0, 500 * 2);
  const base = {
    algo: 'tscac',
    steps: 900,
    stageOneSteps: 400,
    batchSize: 128,
    backend: 'cpu',
    actorHidden: [16],
    criticHidden: [16],
    lrActor: 3e-3,
    lrCritic: 3e-3,
    nStep: 1,
    lambdaLr: 0.05,
    logEvery: 300,
    checkpointEvery: 100_000,
    probeStates: 64,
  };
  type Run = { policy: Policy; algo: Tscac; lastKl: number };
  /** Mean over the states of one policy's μ and σ per coordinate, in logged α units (the run's action normalisation undone). */
  const logged = (r: Run, which: string) => {
    const g = r.algo.gaussian(which, states, 500);
    const { actionMin: lo, actionMax: hi } = r.policy.normalization;
    return {
      mean: colMeans(g.mean, 2).map((u, j) => lo[j] + ((u + 1) / 2) * (hi[j] - lo[j])),
      sd: colMeans(g.logStd, 2).map((l, j) => (Math.exp(l) * (hi[j] - lo[j])) / 2),
    };
  };
  const runs = new Map<string, Run>();
  const fit = async (name: string, extra: Record<string, unknown>) => {
    let lastKl = NaN;
    const { policy } = await train({ batch, config: { ...base, ...extra }, progress: 'none', onStep: (_, st) => (lastKl = st['kl.click'] ?? lastKl) });
    runs.set(name, { policy, algo: (policy as unknown as { algo: Tscac }).algo, lastKl });
  };

  before(async () => {
    const one = [{ name: 'click', weight: 1, gamma: 0 }];
    await fit('tight', { responses: one, klBound: 0.1 });
    await fit('loose', { responses: one, klBound: 2 });
    await fit('two', { responses: [...one, { name: 'share', weight: 1, gamma: 0 }], steps: 401 });
  });

  test('stage one: each auxiliary policy moves from the behavior toward its own response\'s optimum; π_β is the logging Gaussian', () => {
    const two = runs.get('two')!;
    const click = logged(two, 'click').mean;
    const share = logged(two, 'share').mean;
    const { mean: behMean, sd: behSd } = logged(two, 'behavior');
    console.log(`# stage one: click μ ${click.map((v) => v.toFixed(3))}, share μ ${share.map((v) => v.toFixed(3))}, π_β μ ${behMean.map((v) => v.toFixed(3))} σ ${behSd.map((v) => v.toFixed(3))}`);
    const dist = (m: number[], o: readonly number[]) => Math.hypot(m[0] - o[0], m[1] - o[1]);
    assert.ok(click[0] > behMean[0] + 0.1, `click μ_0 ${click[0]} (its optimum ${BANDIT_OPTIMA.click[0]})`);
    assert.ok(share[0] < behMean[0] - 0.1, `share μ_0 ${share[0]} (its optimum ${BANDIT_OPTIMA.share[0]})`);
    assert.ok(dist(click, BANDIT_OPTIMA.click) < dist(behMean, BANDIT_OPTIMA.click) - 0.1);
    assert.ok(dist(share, BANDIT_OPTIMA.share) < dist(behMean, BANDIT_OPTIMA.share) - 0.1);
    behMean.forEach((m) => assert.ok(Math.abs(m) < 0.05, `π_β μ ${m}`));
    behSd.forEach((sd) => assert.ok(Math.abs(sd - BANDIT_SIGMA) < 0.05, `π_β σ ${sd} vs ${BANDIT_SIGMA}`));
  });

  test('stage two: the KL bound holds through its multiplier; a looser bound lets π_1 go further toward the main optimum', () => {
    const [tight, loose] = [runs.get('tight')!, runs.get('loose')!];
    const kl = (r: Run) => meanKl(r.algo.gaussian('main', states, 500), r.algo.gaussian('click', states, 500));
    const mu = (r: Run) => logged(r, 'main').mean;
    const [kT, kL] = [kl(tight), kl(loose)];
    const [lT, lL] = [tight.algo.lambdas()[0], loose.algo.lambdas()[0]];
    console.log(`# stage two: ε 0.1 → KL ${kT.toFixed(3)} λ ${lT.toPrecision(3)} μ_1 ${mu(tight).map((v) => v.toFixed(3))}; ε 2 → KL ${kL.toFixed(3)} λ ${lL.toPrecision(3)} μ_1 ${mu(loose).map((v) => v.toFixed(3))}`);
    assert.ok(kT <= 0.15, `KL(π_1 ‖ π_click) ${kT} over the bound 0.1`);
    near(kT, tight.lastKl, 0.05, 'the reported kl.click is the same quantity');
    assert.ok(lT > 1, `λ ${lT} should have risen from 1 (the unconstrained π_1 breaks ε = 0.1)`);
    assert.ok(lL < 1, `λ ${lL} should have fallen from 1 (ε = 2 is slack at λ = 1)`);
    assert.ok(kL > kT + 0.5 && kL <= 2.5, `KL ${kL}`);
    assert.ok(mu(loose)[1] > 0.25, `μ_1 ${mu(loose)[1]} toward the main optimum ${BANDIT_OPTIMA.reward[1]}`);
    assert.ok(mu(loose)[1] > mu(tight)[1] + 0.15, 'the tight bound holds π_1 nearer π_click');
    runs.forEach((r) => r.policy.dispose());
  });
});

describe('mtf train --algo tscac → mtf export', () => {
  test('a tiny trajectory set: trained, exported through the gate, policy.onnx loads and computes the served α', async () => {
    const dir = tempDir('mtf-tscac-cli-');
    const traj = join(dir, 'traj');
    const run = join(dir, 'run');
    const store = join(dir, 'models');
    const logs = join(import.meta.dirname, '..', 'fixtures', 'logs', 'duckdb-zstd-list-f32', 'interactions.parquet');
    assert.equal(runMtf(['ingest', '--logs', logs, '--reward-weights', 'play_time_s=1,like=2,share=4', '--out', traj, '--quiet']).code, 0);
    const cfg = join(dir, 'tscac.json');
    writeFileSync(cfg, JSON.stringify({ batchSize: 16, actorHidden: [8], criticHidden: [8], probeStates: 8, stageOneSteps: 5, klBound: 0.5, responses: [{ name: 'like', weight: 2, gamma: 0 }, { name: 'share', weight: 4, gamma: 0 }] }));
    const tr = runMtf(['train', '--data', traj, '--out', run, '--algo', 'tscac', '--config', cfg, '--steps', '12', '--backend', 'cpu', '--checkpoint-every', '12', '--log-every', '4']);
    assert.equal(tr.code, 0, tr.stderr);
    assert.match(tr.stdout, /^completed tscac: 12\/12 steps/);
    const report = JSON.parse(readFileSync(join(run, 'training-report.json'), 'utf8'));
    assert.equal(report.algo, 'tscac');
    for (const k of ['kl.like', 'kl.share', 'lambda.like', 'lambda.share', 'weightEss', 'criticLoss', 'actorLoss']) assert.ok(Number.isFinite(report.final[k]), k);

    const ope = writeOpeReport(dir, [
      { name: 'behavior', v_hat: 0.8, ci95: [0.7, 0.9] },
      { name: 'tscac', v_hat: 1.0, ci95: [0.9, 1.1] },
    ]);
    const ex = runMtf(['export', '--checkpoint', run, '--ope', ope, '--store', store, '--name', 'feed', '--data', traj, '--beta', '0.02', '--check-states', '100']);
    assert.equal(ex.code, 0, ex.stderr);
    assert.equal(readCurrent(store, 'feed'), 'v000001');
    const v = readVersion(store, 'feed', 'v000001');
    const m = ManifestSchema.parse(v.manifest);
    assert.equal(m.source.algo, 'tscac');
    assert.equal(m.source.policy_kind, 'deterministic');
    assert.ok(m.gate.parity.passed && m.gate.parity.tfjs_max_abs_diff !== null && m.gate.parity.tfjs_max_abs_diff <= 1e-4, JSON.stringify(m.gate.parity));

    const policy = await loadPolicy(run, { backend: 'cpu' });
    const S = m.state.dim;
    const states = new Rng(9).fillNormal(new Float32Array(20 * S)).map((z, i) => m.normalization.state_mean[i % S] + z * m.normalization.state_std[i % S]);
    const session = await createSession(readFileSync(join(v.dir, 'policy.onnx')));
    try {
      const out = await session.run({ state: new ort.Tensor('float32', states, [20, S]) });
      const onnx = out.fusion_weights.data as Float32Array;
      const alpha = policy.act(states, 20);
      let diff = 0;
      for (let i = 0; i < alpha.length; i++) diff = Math.max(diff, Math.abs(onnx[i] - alpha[i]));
      assert.ok(diff <= 1e-4, `max |Δα| ${diff}`);
    } finally {
      await session.release();
      policy.dispose();
    }
  });
});
