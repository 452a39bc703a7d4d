/**
 * The exported graphs in real onnxruntime-node against TensorFlow.js: a trained BCQ policy (with the
 * graph's baked latent samples), its baselines (against the TF.js policy itself), dynamic N and C,
 * Eq. (1), opset/IR, and Python's onnx checker.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs';
import {
  createSession,
  describeModel,
  fuseScores,
  fusionModel,
  isNearTie,
  IR_VERSION,
  OPSET,
  policyGraph,
  ReferenceModel,
  scorerGraph,
  type FusionModel,
} from '../../src/export/index.ts';
import { train, type Policy, type PolicySpec } from '../../src/rl/index.ts';
import { tempDir } from '../helpers/tmp.ts';
import { syntheticBatch, tinyConfig } from '../rl/helpers.ts';
import { onnxCheck, PYTHON_ONNX, randomSpec, randomStates, randomTaskScores, tfjsReference } from './helpers.ts';

const INFO = { producerVersion: 'test' };
const info = (m: FusionModel) => ({
  ...INFO,
  stateNames: Array.from({ length: m.stateDim }, (_, j) => `s${j}`),
  actionNames: Array.from({ length: m.actionDim }, (_, j) => `task${j}`),
});

async function runPolicy(bytes: Uint8Array, states: Float32Array, n: number, d: number): Promise<Float32Array> {
  const s = await createSession(bytes);
  try {
    return (await s.run({ state: new ort.Tensor('float32', states, [n, d]) })).fusion_weights.data as Float32Array;
  } finally {
    await s.release();
  }
}

function maxAbs(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const N = 1000;

describe('policy.onnx against TensorFlow.js on 1,000 states', () => {
  const trained = new Map<string, Policy>();
  before(async () => {
    await tf.setBackend('cpu');
    const batch = syntheticBatch({ n: 160, stateDim: 4, actionDim: 3 });
    for (const algo of ['bcq', 'bc', 'td3'] as const) {
      const { policy } = await train({ batch, config: tinyConfig(algo, algo === 'bcq' ? { steps: 15, numSamples: 10 } : { steps: 15 }), progress: 'none' });
      trained.set(algo, policy);
    }
  });
  after(() => trained.forEach((p) => p.dispose()));

  test('BCQ: same α as the TF.js computation with the same baked z; near-ties counted and bounded', async () => {
    const policy = trained.get('bcq')!;
    const spec = policy.spec();
    assert.equal(spec.networks.kind, 'bcq');
    const m = fusionModel(spec, { latentSeed: 3 });
    const states = randomStates(spec, N);
    const onnx = await runPolicy(policyGraph(m, info(m)), states, N, m.stateDim);
    const ref = tfjsReference(m, states, N);
    const k = m.actionDim;
    const n = (ref.q!.length / N) | 0;
    let ties = 0;
    let flips = 0;
    let maxDiff = 0;
    for (let i = 0; i < N; i++) {
      const row = maxAbs(onnx.subarray(i * k, (i + 1) * k), ref.alpha.subarray(i * k, (i + 1) * k));
      const tie = isNearTie(ref.q!, i, n, 1e-4);
      if (tie) ties++;
      if (row > 1e-4) {
        assert.ok(tie, `state ${i}: |Δα| ${row} without a near-tie`);
        flips++;
      } else maxDiff = Math.max(maxDiff, row);
    }
    assert.ok(maxDiff <= 1e-4, `max |Δα| ${maxDiff}`);
    // a barely trained Q1 is flat, so near-ties are common; what must stay rare is a different choice
    assert.ok(flips <= N * 0.01, `${flips} argmax flips (all near-ties) of ${N} states`);
    // the plain-TS reference the gate uses agrees with TF.js wherever the choice is not a near-tie
    const plain = new ReferenceModel(m).act(states, N).alpha;
    for (let i = 0; i < N; i++) {
      if (isNearTie(ref.q!, i, n, 1e-4)) continue;
      assert.ok(maxAbs(plain.subarray(i * k, (i + 1) * k), ref.alpha.subarray(i * k, (i + 1) * k)) <= 1e-4, `state ${i}`);
    }
    console.log(`# BCQ parity: max |Δα| ${maxDiff.toExponential(2)} on ${N} states, ${ties} near-ties, ${flips} flips`);
    // the TF.js policy samples z per call: its α differ from the baked graph's, but stay in the same box
    const live = policy.act(states, N);
    for (let i = 0; i < live.length; i++) {
      const t = i % k;
      assert.ok(onnx[i] >= spec.normalization.actionMin[t] - 1e-5 && onnx[i] <= spec.normalization.actionMax[t] + 1e-5);
      assert.ok(Number.isFinite(live[i]));
    }
  });

  for (const algo of ['bc', 'td3'] as const) {
    test(`${algo}: same α as the TF.js policy itself`, async () => {
      const policy = trained.get(algo)!;
      const m = fusionModel(policy.spec());
      const states = randomStates(policy.spec(), N);
      const onnx = await runPolicy(policyGraph(m, info(m)), states, N, m.stateDim);
      const diff = maxAbs(onnx, policy.act(states, N));
      assert.ok(diff <= 1e-4, `max |Δα| ${diff}`);
      assert.ok(maxAbs(onnx, tfjsReference(m, states, N).alpha) <= 1e-4);
    });
  }
});

describe('scorer.onnx', () => {
  const spec: PolicySpec = randomSpec({ kind: 'bcq', stateDim: 6, actionDim: 4, hidden: [12, 12], numSamples: 5 });
  const m = fusionModel(spec, { beta: [0.01, 0.05, 0.1, 0.02] });
  const bytes = scorerGraph(m, info(m));

  test('dynamic N and C: scores = Σ α_i·log(o_i + β_i) (Eq. 1), α = policy.onnx α', async () => {
    const s = await createSession(bytes);
    try {
      for (const [n, C] of [
        [1, 1],
        [1, 500],
        [3, 7],
        [64, 50],
      ]) {
        const states = randomStates(spec, n, n);
        const o = randomTaskScores(n, C, 4, C);
        const out = await s.run({ state: new ort.Tensor('float32', states, [n, 6]), task_scores: new ort.Tensor('float32', o, [n, C, 4]) });
        assert.deepEqual(out.scores.dims, [n, C]);
        assert.deepEqual(out.fusion_weights.dims, [n, 4]);
        const alpha = out.fusion_weights.data as Float32Array;
        const scores = out.scores.data as Float32Array;
        assert.ok(maxAbs(alpha, await runPolicy(policyGraph(m, info(m)), states, n, 6)) <= 1e-6);
        const want = fuseScores(alpha, o, n, C, m.beta);
        for (let i = 0; i < want.length; i++) assert.ok(Math.abs(scores[i] - want[i]) <= 1e-4 * Math.max(1, Math.abs(want[i])), `score ${i}: ${scores[i]} vs ${want[i]}`);
      }
    } finally {
      await s.release();
    }
  });

  test('opset ≤ 17, IR ≤ 8, the documented names and metadata', () => {
    for (const b of [bytes, policyGraph(m, info(m))]) {
      const dsc = describeModel(b);
      assert.equal(dsc.opset, OPSET);
      assert.ok(dsc.opset <= 17 && dsc.irVersion <= 8 && dsc.irVersion === IR_VERSION);
      assert.equal(dsc.inputs[0], 'state');
      assert.ok(dsc.outputs.includes('fusion_weights'));
      assert.deepEqual(JSON.parse(dsc.metadata.beta), m.beta);
      assert.equal(dsc.metadata.latent_samples, '5');
    }
    assert.deepEqual(describeModel(bytes).inputs, ['state', 'task_scores']);
    assert.deepEqual(describeModel(bytes).outputs, ['fusion_weights', 'scores']);
  });

  test('Python onnx checker accepts both files of every policy kind', (t) => {
    if (!PYTHON_ONNX) {
      t.skip('python3-onnx is not installed (apt-get install -y python3-onnx): the ONNX checker cannot run');
      return;
    }
    const dir = tempDir();
    const files: string[] = [];
    for (const kind of ['bcq', 'vae-decoder', 'deterministic'] as const) {
      const km = fusionModel(randomSpec({ kind }));
      for (const [f, b] of [
        ['policy', policyGraph(km, info(km))],
        ['scorer', scorerGraph(km, info(km))],
      ] as const) {
        const path = join(dir, `${kind}-${f}.onnx`);
        writeFileSync(path, b);
        files.push(path);
      }
    }
    const r = onnxCheck(files);
    assert.ok(r.ok, r.output);
  });

  test('non-finite weights are refused before a graph is written', () => {
    const bad = randomSpec({ kind: 'deterministic' });
    if (bad.networks.kind !== 'deterministic') throw new Error('unreachable');
    bad.networks.actor[0].W[3] = Number.NaN;
    assert.throws(() => policyGraph(fusionModel(bad), info(fusionModel(bad))), /actor\.0\.W.*NaN/);
  });
});
