/**
 * Policies that rank the candidates themselves (FusionPolicy.scoreCandidates), as a ranking stack calls an
 * exported scorer.onnx: with the world's β they rank exactly as their α does under the engine's Eq. (1),
 * with another β they rank differently, and a bad scorer fails naming the file.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { InputError } from '../../src/errors/index.ts';
import { fusionModel, policyGraph, scorerGraph, type FusionModel } from '../../src/export/index.ts';
import { constantPolicy, NUM_TASKS, onnxPolicy, rollout, scorerPolicy, STATE_DIM, type FusionPolicy, type RolloutResult } from '../../src/sim/index.ts';
import { randomSpec, randomStates } from '../export/helpers.ts';
import { tempDir } from '../helpers/tmp.ts';
import { smallWorld } from './helpers.ts';

const world = smallWorld();
const worldBeta = world.config.session.beta;
const dir = tempDir('mtf-sim-scorer-');
const info = { producerVersion: 'test', stateNames: [], actionNames: [] };

/** A random policy of the simulator's dims: standardisation N(0, 1), α in [0, 2]. */
function model(kind: 'bcq' | 'deterministic', beta: number | number[]): FusionModel {
  const spec = randomSpec({ kind, stateDim: STATE_DIM, actionDim: NUM_TASKS, hidden: [16, 16], seed: 5 });
  spec.normalization.stateMean.fill(0);
  spec.normalization.stateStd.fill(1);
  spec.normalization.actionMin.fill(0);
  spec.normalization.actionMax.fill(2);
  return fusionModel(spec, { beta });
}

function write(name: string, bytes: Uint8Array): string {
  const file = join(dir, name);
  writeFileSync(file, bytes);
  return file;
}

async function roll(p: FusionPolicy, sessions = 400): Promise<RolloutResult> {
  try {
    return await rollout({ world, policy: p, sessions, seed: 11 });
  } finally {
    await p.dispose?.();
  }
}

function differing(a: RolloutResult, b: RolloutResult): number {
  let n = 0;
  for (let i = 0; i < a.sessions; i++) if (a.discountedReturn[i] !== b.discountedReturn[i] || a.length[i] !== b.length[i]) n++;
  return n;
}

for (const kind of ['deterministic', 'bcq'] as const) {
  test(`${kind}: scorer.onnx with the world's β rolls out exactly like policy.onnx; with another β it does not`, async () => {
    const m = model(kind, [...worldBeta]);
    const viaAlpha = await roll(await onnxPolicy(write(`${kind}-policy.onnx`, policyGraph(m, info))));
    let calls = 0;
    const scorer = await scorerPolicy(write(`${kind}-scorer.onnx`, scorerGraph(m, info)), { id: 'scorer' });
    const counted: FusionPolicy = { ...scorer, scoreCandidates: (...a) => (calls++, scorer.scoreCandidates!(...a)) };
    const viaScorer = await roll(counted);
    assert.ok(calls > 0, 'the engine ranked with the scorer');
    // Identical per session: the engine hands the scorer o as its table holds it (exp(log(o + β)) − β)
    assert.equal(differing(viaAlpha, viaScorer), 0);
    assert.deepEqual(viaScorer.discountedReturn, viaAlpha.discountedReturn);

    const other = await roll(await scorerPolicy(write(`${kind}-scorer-001.onnx`, scorerGraph(model(kind, 0.01), info)), { id: 'scorer-0.01' }));
    assert.ok(differing(viaAlpha, other) > viaAlpha.sessions / 10, `β = 0.01 changed only ${differing(viaAlpha, other)} of ${viaAlpha.sessions} sessions`);
  });
}

test('a scorer in plain JavaScript (Σ α log(o + β) of the task scores handed over) ranks as the constant α does', async () => {
  const alpha = Float32Array.from([1, 0.5, 0.4, 0.2, 0.2, 0.2, 0.5, 1.2]);
  const K = NUM_TASKS;
  const js: FusionPolicy = {
    id: 'js-scorer',
    act: (_s, n) => {
      const a = new Float32Array(n * K);
      for (let i = 0; i < n; i++) a.set(alpha, i * K);
      return a;
    },
    scoreCandidates(states, o, n, C, ctx) {
      const scores = new Float32Array(n * C);
      for (let q = 0; q < n * C; q++) {
        let f = 0;
        for (let t = 0; t < K; t++) f += alpha[t] * Math.log(o[q * K + t] + worldBeta[t]);
        scores[q] = f;
      }
      return { alpha: this.act(states, n, ctx) as Float32Array, scores };
    },
  };
  const a = await roll(constantPolicy([...alpha]));
  const b = await roll(js);
  assert.equal(differing(a, b), 0);
});

test("the scorer's act() gives policy.onnx's α (one neutral candidate)", async () => {
  const m = model('bcq', [...worldBeta]);
  const p = await onnxPolicy(write('act-policy.onnx', policyGraph(m, info)));
  const s = await scorerPolicy(scorerGraph(m, info), { id: 'bytes' });
  try {
    const states = randomStates(m, 37);
    assert.deepEqual(Array.from(await s.act(states, 37, null as never)), Array.from(await p.act(states, 37, null as never)));
  } finally {
    await p.dispose?.();
    await s.dispose?.();
  }
});

test('a file that is not a scorer fails with an InputError naming it', async () => {
  const m = model('deterministic', 0.01);
  const policyOnly = write('not-a-scorer.onnx', policyGraph(m, info));
  await assert.rejects(scorerPolicy(policyOnly, { id: 'x' }), (e: unknown) => e instanceof InputError && /not-a-scorer\.onnx: a scorer needs inputs \[state, task_scores\]/.test(e.message));
  await assert.rejects(scorerPolicy(new TextEncoder().encode('junk'), { id: 'x', file: 'models/x/v1/scorer.onnx' }), /models\/x\/v1\/scorer\.onnx: not a loadable ONNX model/);
  const small = fusionModel(randomSpec({ kind: 'deterministic', stateDim: 5, actionDim: NUM_TASKS }), { beta: 0.01 });
  await assert.rejects(scorerPolicy(write('dim.onnx', scorerGraph(small, info)), { id: 'x' }), new RegExp(`state has shape \\[N, 5\\], expected \\[N, ${STATE_DIM}\\]`));
});
