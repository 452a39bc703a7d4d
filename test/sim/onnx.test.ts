import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { InputError } from '../../src/errors/index.ts';
import { behaviorPolicy, constantPolicy, DEFAULT_PRODUCTION_ALPHA, onnxPolicy, policyFromSpec, rollout, STATE_DIM } from '../../src/sim/index.ts';
import { tempDir } from '../helpers/tmp.ts';
import { smallWorld } from './helpers.ts';
import { writeConstantOnnx, writeLinearOnnx } from './onnxModel.ts';

const world = smallWorld();
const dir = tempDir('mtf-sim-onnx-');
const constFile = join(dir, 'prod-const.onnx');
writeConstantOnnx(constFile, DEFAULT_PRODUCTION_ALPHA, STATE_DIM);

test('an ONNX model of a constant α rolls out exactly like constantPolicy (batched over the slots)', async () => {
  const p = await onnxPolicy(constFile);
  try {
    assert.equal(p.id, 'prod-const');
    const a = await rollout({ world, policy: p, sessions: 80, seed: 3, slots: 32 });
    const b = await rollout({ world, policy: constantPolicy(DEFAULT_PRODUCTION_ALPHA), sessions: 80, seed: 3 });
    assert.deepEqual(a.return, b.return);
  } finally {
    await p.dispose?.();
  }
});

test('a state-dependent ONNX model: α = state · W + b', async () => {
  const file = join(dir, 'linear.onnx');
  const W = new Float32Array(STATE_DIM * 8);
  W[12 * 8 + 7] = 2; // play_time weight grows with h_skip_ema
  writeLinearOnnx(file, { W, b: Float32Array.from(DEFAULT_PRODUCTION_ALPHA), d: STATE_DIM, k: 8 });
  const p = await onnxPolicy(file, { id: 'lin' });
  try {
    const states = new Float32Array(2 * STATE_DIM);
    states[STATE_DIM + 12] = 0.5;
    const a = (await p.act(states, 2, null as never)) as Float32Array;
    const b7 = Math.fround(DEFAULT_PRODUCTION_ALPHA[7]);
    assert.ok(Math.abs(a[7] - b7) < 1e-6 && Math.abs(a[15] - (b7 + 1)) < 1e-6);
    const r = await rollout({ world, policy: p, sessions: 40, seed: 1 });
    assert.ok(r.steps > 40);
  } finally {
    await p.dispose?.();
  }
});

test('a behavior policy around an ONNX production logs its arms with the model name', async () => {
  const prod = await onnxPolicy(constFile);
  const b = behaviorPolicy({ production: prod });
  assert.deepEqual(b.armIds, ['random_explore:prod-const', 'action_noise:prod-const']);
  await rollout({ world, policy: b, sessions: 20, seed: 1 });
  await b.dispose?.();
});

test('bad models and specs fail with an InputError naming the file or the flag', async () => {
  await assert.rejects(onnxPolicy(join(dir, 'missing.onnx')), (e: unknown) => e instanceof InputError && /missing\.onnx: no such ONNX model/.test(e.message));
  const junk = join(dir, 'junk.onnx');
  writeFileSync(junk, 'not a model');
  await assert.rejects(onnxPolicy(junk), (e: unknown) => e instanceof InputError && /junk\.onnx: not a loadable ONNX model/.test(e.message));
  const renamed = join(dir, 'renamed.onnx');
  writeLinearOnnx(renamed, { W: new Float32Array(STATE_DIM * 8), b: new Float32Array(8), d: STATE_DIM, k: 8, inputName: 'x' });
  await assert.rejects(onnxPolicy(renamed), /needs input 'state' and output 'fusion_weights', found inputs \[x\]/);
  const wrongDim = join(dir, 'dim.onnx');
  writeLinearOnnx(wrongDim, { W: new Float32Array(10 * 8), b: new Float32Array(8), d: 10, k: 8 });
  await assert.rejects(onnxPolicy(wrongDim), new RegExp(`state has shape \\[N, 10\\], expected \\[N, ${STATE_DIM}\\]`));
  await assert.rejects(policyFromSpec('const:1,2,3'), /must give 8 finite comma-separated weights/);
  await assert.rejects(policyFromSpec('nonsense'), (e: unknown) => e instanceof InputError && /--policy: 'nonsense' is not a policy/.test(e.message));
});

test('policy specs', async () => {
  assert.equal((await policyFromSpec('const:1,1,1,1,1,1,1,1')).id, 'const:1,1,1,1,1,1,1,1');
  assert.equal((await policyFromSpec('behavior')).id, 'behavior');
  assert.equal((await policyFromSpec('behavior:best')).id, 'behavior:best');
  const onnxBehavior = await policyFromSpec(`behavior:${constFile}`);
  assert.equal(onnxBehavior.id, 'behavior:prod-const');
  await onnxBehavior.dispose?.();
  for (const name of ['production', 'best', 'oracle', 'myopic', 'lookahead']) assert.equal((await policyFromSpec(name)).id, name);
});
