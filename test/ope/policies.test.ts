import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../src/errors/index.ts';
import { behaviorPolicy, constantPolicy, fnPolicy, loadEvalPolicy, policyActions } from '../../src/ope/policies.ts';
import { tempDir } from '../helpers/tmp.ts';
import { syntheticBatch, tinyConfig } from '../rl/helpers.ts';
import { writeLinearOnnx } from '../sim/onnxModel.ts';
import { train } from '../../src/rl/index.ts';
import { identityData, makeBatch } from './helpers.ts';

const batch = () =>
  makeBatch([
    { states: [[0], [1], [2]], actions: [[0.1], [0.2], [0.3]], rewards: [1, 1, 1], end: 'done' },
    { states: [[3], [4]], actions: [[0.4], [0.5]], rewards: [1, 1], end: 'cut' },
  ]);

test('behavior: π_e(s) is the logged a and π_e(s′) the logged next action; rows without a target get 0', async () => {
  const d = identityData(batch(), 0.9);
  const a = await policyActions(behaviorPolicy(), d, 5);
  assert.equal(a.samples, 1);
  assert.deepEqual([...a.pi].map((x) => +x.toFixed(6)), [0.1, 0.2, 0.3, 0.4, 0.5]);
  assert.deepEqual([...a.pi2].map((x) => +x.toFixed(6)), [0.2, 0.3, 0, 0.5, 0]);
});

test('behavior: a row that neither ends nor is cut but has no next row is an input error', async () => {
  const b = batch();
  b.truncated[4] = 0; // the last row of session 1 now claims the session goes on
  await assert.rejects(policyActions(behaviorPolicy(), identityData(b, 0.9), 1), (e: Error) => e instanceof InputError && /no next row/.test(e.message));
});

test('a policy is evaluated once on the states; π(s′) comes from the next row, separately only where s′ differs', async () => {
  const b = batch();
  b.nextState[0] = 7; // row 0's s′ is not row 1's state
  const d = identityData(b, 0.9);
  const seen: number[] = [];
  const p = fnPolicy('double', (s, n) => {
    seen.push(n);
    return Float32Array.from(s.subarray(0, n), (x) => x / 10);
  });
  const a = await policyActions(p, d, 5);
  assert.equal(a.stochastic, false);
  assert.equal(a.samples, 1);
  // 2 probes (stochastic check) + all 5 states + the 1 differing s′
  assert.deepEqual(seen, [5, 5, 5, 1]);
  assert.deepEqual([...a.pi2].map((x) => +x.toFixed(6)), [0.7, 0.2, 0, 0.4, 0]);
});

test('a stochastic policy gets actionSamples draws; a constant one 1', async () => {
  const d = identityData(batch(), 0.9);
  let k = 0;
  const noisy = fnPolicy('noisy', (_s, n) => Float32Array.from({ length: n }, () => (k++ % 7) / 10));
  const a = await policyActions(noisy, d, 3);
  assert.equal(a.stochastic, true);
  assert.equal(a.samples, 3);
  assert.equal(a.pi.length, 3 * 5);
  const c = await policyActions(constantPolicy([0.25]), d, 3);
  assert.equal(c.samples, 1);
  assert.ok([...c.pi].every((x) => x === 0.25));
});

test('a policy returning the wrong shape or a non-finite weight is an input error naming it', async () => {
  const d = identityData(batch(), 0.9);
  await assert.rejects(policyActions(fnPolicy('short', () => new Float32Array(1)), d, 1), /short: returned 1 values for 5 states/);
  await assert.rejects(policyActions(fnPolicy('nan', (_s, n) => new Float32Array(n).fill(NaN)), d, 1), /nan: returned a non-finite weight/);
});

test('policy specs: behavior, name=const:…, dims checked, missing paths and model stores', async () => {
  const dims = { stateDim: 1, actionDim: 2 };
  assert.equal((await loadEvalPolicy('behavior', dims)).kind, 'behavior');
  assert.equal((await loadEvalPolicy('live=behavior', dims)).name, 'live');
  const c = await loadEvalPolicy('best=const:0.5,1', dims);
  assert.equal(c.name, 'best');
  assert.equal(c.source, 'const:0.5,1');
  assert.equal((await loadEvalPolicy('const:0.5,1', dims)).name, 'const:0.5,1');
  await assert.rejects(loadEvalPolicy('const:0.5', dims), /must give 2 finite comma-separated weights/);
  await assert.rejects(loadEvalPolicy('const:0.5,x', dims), InputError);
  await assert.rejects(loadEvalPolicy('/no/such/dir', dims), /'\/no\/such\/dir' is not a recognised policy spec, nor a file or folder that exists/);
  const notPolicy = join(tempDir('mtf-ope-txt-'), 'existing.txt');
  writeFileSync(notPolicy, 'hello');
  await assert.rejects(loadEvalPolicy(notPolicy, dims), /existing\.txt' is a file but not a recognised policy/);
  const store = tempDir('mtf-ope-store-');
  writeFileSync(join(store, 'CURRENT'), 'v7\n');
  mkdirSync(join(store, 'v7'));
  await assert.rejects(loadEvalPolicy(store, { ...dims, field: '--baseline' }), /--baseline: .*CURRENT names version 'v7'/);
});

test('policy specs: an ONNX fusion model, directly and through a model store (CURRENT)', async () => {
  const dir = tempDir('mtf-ope-onnx-');
  // α = s·W + b with d = 2, k = 2: W = [[1, 0], [0, 2]], b = [0.5, −1]
  const model = { W: Float32Array.of(1, 0, 0, 2), b: Float32Array.of(0.5, -1), d: 2, k: 2 };
  writeLinearOnnx(join(dir, 'm.onnx'), model);
  mkdirSync(join(dir, 'store', 'v3'), { recursive: true });
  writeLinearOnnx(join(dir, 'store', 'v3', 'policy.onnx'), model);
  writeFileSync(join(dir, 'store', 'CURRENT'), 'v3\n');
  const dims = { stateDim: 2, actionDim: 2 };
  for (const [spec, name] of [[join(dir, 'm.onnx'), 'm'], [join(dir, 'store'), 'store@v3']] as const) {
    const p = await loadEvalPolicy(spec, dims);
    assert.equal(p.name, name);
    assert.equal(p.kind, 'fn');
    if (p.kind !== 'fn') continue;
    const a = await p.act(Float32Array.of(1, 2, 3, 4), 2);
    assert.deepEqual([...a], [1.5, 3, 3.5, 7]);
    await p.dispose?.();
  }
  writeFileSync(join(dir, 'bad.onnx'), 'not a model');
  await assert.rejects(loadEvalPolicy(join(dir, 'bad.onnx'), dims), /not a loadable ONNX model/);
});

test('policy specs: a training output dir evaluates like the Policy it holds', async () => {
  const out = tempDir('mtf-ope-ckpt-');
  const b = syntheticBatch({ n: 64, stateDim: 3, actionDim: 2 });
  const { policy } = await train({ batch: b, config: tinyConfig('td3', { steps: 10, checkpointEvery: 10 }), outDir: out, progress: 'none' });
  const p = await loadEvalPolicy(out, { stateDim: 3, actionDim: 2, backend: 'cpu' });
  assert.equal(p.kind, 'fn');
  if (p.kind !== 'fn') return;
  assert.deepEqual([...(await p.act(b.state.subarray(0, 12), 4))], [...policy.act(b.state.subarray(0, 12), 4)]);
  await assert.rejects(loadEvalPolicy(out, { stateDim: 4, actionDim: 2, backend: 'cpu' }), /a policy for state\/action dims 3\/2, the data has 4\/2/);
  await p.dispose?.();
  policy.dispose();
});
