/**
 * β travels with the model (issue 16 §5), end to end on simulated logs: the simulator writes its β in
 * the parquet footer → ingest → metadata.json → `mtf train` records it → `mtf export` bakes it into
 * scorer.onnx (and refuses a --beta that disagrees) → a store version rolled out through its scorer.onnx,
 * as the ranking stack calls it, has exactly the true value of its policy.onnx; a scorer exported with
 * another β does not.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { resolvePolicy } from '../../src/cli/policyArg.ts';
import { ingest, parseRewardWeights, readTrajectories } from '../../src/data/index.ts';
import { describeModel, fuseScores, fusionModel, policyGraph, readVersion, scorerGraph, writeVersion, type Manifest } from '../../src/export/index.ts';
import { chooseBeta } from '../../src/export/model.ts';
import { loadPolicy } from '../../src/rl/index.ts';
import { onnxPolicy, REWARD_SPEC, rollout, simulateLogs, type FusionPolicy, type RolloutResult } from '../../src/sim/index.ts';
import { runMtf } from '../helpers/cli.ts';
import { tempDir } from '../helpers/tmp.ts';
import { tinyConfig } from '../rl/helpers.ts';
import { smallWorld } from '../sim/helpers.ts';
import { randomStates, randomTaskScores, testManifest, writeOpeReport } from './helpers.ts';

test("chooseBeta: the logs' β wins, an option must equal it (as float32), else the option, else the default with a warning", () => {
  const data = { beta: [0.05, 0.02], where: 'traj/metadata.json' };
  const training = { beta: [0.05, 0.02], where: 'run/training-report.json' };
  assert.deepEqual(chooseBeta(2, { data, training }), { beta: [0.05, 0.02], source: 'logs', warning: null });
  assert.deepEqual(chooseBeta(2, { training }, [Math.fround(0.05), 0.02]).source, 'logs');
  assert.throws(() => chooseBeta(2, { data }, 0.01), /--beta \[0\.01, 0\.01\] disagrees with the logs' β \[0\.05, 0\.02\] \(traj\/metadata\.json\)/);
  assert.throws(() => chooseBeta(2, { data, training: { ...training, beta: [0.01, 0.02] } }), /traj\/metadata\.json has β \[0\.05, 0\.02\], but the checkpoint was trained on data with β \[0\.01, 0\.02\] \(run\/training-report\.json\)/);
  assert.throws(() => chooseBeta(3, { data }), /traj\/metadata\.json: β has 2 values, the policy has 3 tasks/);
  assert.deepEqual(chooseBeta(2, { data: null }, 0.03), { beta: [0.03, 0.03], source: 'option', warning: null });
  const d = chooseBeta(2, {});
  assert.deepEqual([d.beta, d.source], [[0.01, 0.01], 'default']);
  assert.match(d.warning!, /^β unknown/);
});

describe('β: logs → metadata.json → training report → scorer.onnx → truth', () => {
  const dir = tempDir();
  const world = smallWorld();
  const worldBeta = [...world.config.session.beta];
  const traj = join(dir, 'traj');
  const run = join(dir, 'run');
  const store = join(dir, 'models');
  const version = join(store, 'feed', 'v000001');
  let ope = '';

  before(async () => {
    const logs = join(dir, 'logs');
    await simulateLogs({ world, out: logs, endDate: '2026-11-20', days: 1, sessionsPerDay: 150, seed: 5 });
    await ingest({ logs, window: { endDate: '2026-11-20', days: 1 }, reward: parseRewardWeights(REWARD_SPEC), out: traj });
    const cfg = join(dir, 'tiny.json');
    writeFileSync(cfg, JSON.stringify(tinyConfig('bcq', { steps: 10, checkpointEvery: 10 })));
    const t = runMtf(['train', '--data', traj, '--config', cfg, '--out', run]);
    assert.equal(t.code, 0, t.stderr);
    ope = writeOpeReport(dir, [
      { name: 'behavior', v_hat: 0.8, ci95: [0.7, 0.9] },
      { name: 'bcq', v_hat: 1.0, ci95: [0.9, 1.1] },
    ]);
  });

  test("the data's β reaches the training report and the exported scorer (graph, metadata, manifest)", async () => {
    assert.deepEqual((await readTrajectories(traj, 'test')).metadata.beta, worldBeta);
    assert.deepEqual(JSON.parse(readFileSync(join(run, 'training-report.json'), 'utf8')).beta, worldBeta);
    // an explicit --beta equal to the logs' is accepted
    const r = runMtf(['export', '--checkpoint', run, '--ope', ope, '--store', store, '--name', 'feed', '--data', traj, '--beta', worldBeta.join(','), '--check-states', '100']);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /warning/);
    const v = readVersion(store, 'feed', 'v000001');
    assert.deepEqual(v.manifest.beta, worldBeta);
    assert.equal(v.manifest.beta_source, 'logs');
    assert.deepEqual(JSON.parse(describeModel(v.files['scorer.onnx']).metadata.beta), worldBeta);
    // what the graph computes: Σ α_i·log(o_i + β_i) with the logs' β, not the old default 0.01
    const { dim: d } = v.manifest.state;
    const k = v.manifest.action.dim;
    const n = 16;
    const C = 5;
    const norm = v.manifest.normalization;
    const states = randomStates({ stateDim: d, normalization: { stateMean: norm.state_mean, stateStd: norm.state_std, actionMin: norm.action_min, actionMax: norm.action_max } }, n);
    const o = randomTaskScores(n, C, k);
    const s = await ort.InferenceSession.create(v.files['scorer.onnx']);
    try {
      const out = await s.run({ state: new ort.Tensor('float32', states, [n, d]), task_scores: new ort.Tensor('float32', o, [n, C, k]) });
      const alpha = out.fusion_weights.data as Float32Array;
      const scores = out.scores.data as Float32Array;
      const want = fuseScores(alpha, o, n, C, worldBeta);
      const old = fuseScores(alpha, o, n, C, new Array(k).fill(0.01));
      let err = 0;
      let gap = 0;
      for (let i = 0; i < scores.length; i++) {
        err = Math.max(err, Math.abs(scores[i] - want[i]) / Math.max(1, Math.abs(want[i])));
        gap = Math.max(gap, Math.abs(scores[i] - old[i]));
      }
      assert.ok(err < 1e-5, `scores differ from Eq. 1 with the logs' β by ${err}`);
      assert.ok(gap > 1e-2, 'the graph does not use β = 0.01');
    } finally {
      await s.release();
    }
  });

  test("without --data the training report's β is used; a disagreeing --beta is refused naming both, nothing written", () => {
    const other = join(dir, 'models-nodata');
    const r = runMtf(['export', '--checkpoint', run, '--ope', ope, '--store', other, '--name', 'feed', '--check-states', '50']);
    assert.equal(r.code, 0, r.stderr);
    const m = readVersion(other, 'feed', 'v000001').manifest;
    assert.deepEqual(m.beta, worldBeta);
    assert.equal(m.beta_source, 'logs');

    const refused = join(dir, 'models-refused');
    const x = runMtf(['export', '--checkpoint', run, '--ope', ope, '--store', refused, '--name', 'feed', '--data', traj, '--beta', '0.01']);
    assert.equal(x.code, 1, x.stderr);
    assert.equal(x.stderr.trim().split('\n').length, 1, x.stderr);
    assert.match(x.stderr, /--beta \[0\.01, 0\.01, 0\.01, 0\.01, 0\.01, 0\.01, 0\.01, 0\.01\] disagrees with the logs' β \[0\.05, 0\.05, 0\.02, 0\.01, 0\.01, 0\.01, 0\.05, 0\.05\] \(.*traj\/metadata\.json\)/);
    assert.ok(!existsSync(join(refused, 'feed')) || readdirSync(join(refused, 'feed')).every((f) => f.startsWith('.')), 'no version written');
  });

  /** Per-session outcomes of a rollout on the test world (common random numbers: same seed, same sessions). */
  async function roll(p: FusionPolicy): Promise<RolloutResult> {
    try {
      return await rollout({ world, policy: p, sessions: 300, seed: 21 });
    } finally {
      await p.dispose?.();
    }
  }
  const differing = (a: RolloutResult, b: RolloutResult) => a.discountedReturn.filter((x, i) => x !== b.discountedReturn[i] || a.length[i] !== b.length[i]).length;

  test("a store version rolled out through its scorer.onnx is its policy.onnx's truth; a scorer with another β is not", async () => {
    const viaPolicy = await roll(await onnxPolicy(join(version, 'policy.onnx')));
    const scorer = await resolvePolicy(version);
    assert.equal(scorer.id, 'feed@v000001');
    assert.ok(scorer.scoreCandidates, 'the version ranks through its scorer');
    const viaScorer = await roll(scorer);
    assert.equal(differing(viaPolicy, viaScorer), 0);
    assert.deepEqual(viaScorer.discountedReturn, viaPolicy.discountedReturn);
    // the model directory: the version CURRENT names
    assert.deepEqual((await roll(await resolvePolicy(join(store, 'feed')))).discountedReturn, viaPolicy.discountedReturn);

    // The same checkpoint exported with β = 0.01 (the lower-level API: the CLI refuses it) ranks otherwise.
    const policy = await loadPolicy(join(run, 'checkpoints', readFileSync(join(run, 'checkpoints', 'LATEST'), 'utf8').trim()), { backend: 'cpu' });
    const model = fusionModel(policy.spec(), { beta: 0.01 });
    policy.dispose();
    const g = { producerVersion: 'test', stateNames: [], actionNames: [] };
    const wrong = join(dir, 'models-wrong-beta');
    const w = writeVersion({
      storeDir: wrong,
      name: 'feed',
      files: { 'policy.onnx': policyGraph(model, g), 'scorer.onnx': scorerGraph(model, g) },
      manifest: (ctx): Manifest => testManifest(model, 'feed', ctx),
      publish: () => true,
    });
    const viaWrong = await roll(await resolvePolicy(w.dir));
    const n = differing(viaPolicy, viaWrong);
    assert.ok(n > viaPolicy.sessions / 20, `β = 0.01 changed only ${n} of ${viaPolicy.sessions} sessions`);
    // the scorer's bytes are checked against the manifest before they are loaded
    writeFileSync(join(w.dir, 'scorer.onnx'), Buffer.concat([readFileSync(join(w.dir, 'scorer.onnx')), Buffer.from([0])]));
    await assert.rejects(resolvePolicy(w.dir), /scorer\.onnx: \d+ bytes, the manifest says \d+/);
  });

  test('mtf truth --policy <store version dir> through the CLI equals its policy.onnx (paired difference 0)', () => {
    const r = runMtf(['truth', '--policy', version, '--baseline', join(version, 'policy.onnx'), '--sessions', '200', '--seed', '3']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.policy, 'feed@v000001');
    assert.equal(out.baseline.policy, 'policy');
    assert.equal(out.difference.discounted_return.mean, 0);
    assert.deepEqual(out.difference.discounted_return.ci95, [0, 0]);
    assert.equal(out.discounted_return.mean, out.baseline.discounted_return.mean);
    const viaModelDir = runMtf(['truth', '--policy', join(store, 'feed'), '--sessions', '200', '--seed', '3']);
    assert.equal(viaModelDir.code, 0, viaModelDir.stderr);
    assert.equal(JSON.parse(viaModelDir.stdout).discounted_return.mean, out.discounted_return.mean);
  });
});
