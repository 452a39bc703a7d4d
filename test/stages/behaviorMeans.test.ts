/**
 * μ(s) per logged row for box-aware training (src/stages/behaviorMeans.ts): the version each policy_id
 * names, resolved through train.behavior_policies or the model store; every failure names the field.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TransitionBatch } from '../../src/data/index.ts';
import { InputError } from '../../src/errors/index.ts';
import { behaviorMeans, behaviorSpec, versionOfPolicyId } from '../../src/stages/behaviorMeans.ts';
import { tempDir } from '../helpers/tmp.ts';

function batchOf(policyIds: (string | null)[], values: string[]): TransitionBatch {
  const n = policyIds.length;
  return {
    n, stateDim: 2, actionDim: 2,
    state: Float32Array.from({ length: 2 * n }, (_, i) => i), nextState: new Float32Array(2 * n), action: new Float32Array(2 * n),
    reward: new Float32Array(n), done: new Uint8Array(n).fill(1), truncated: new Uint8Array(n),
    sessionIndex: Int32Array.from({ length: n }, (_, i) => i), step: new Int32Array(n), requestTs: new Float64Array(n),
    actionLogp: new Float32Array(n).fill(NaN), feedback: {},
    policyId: { codes: Int32Array.from(policyIds, (p) => (p === null ? -1 : values.indexOf(p))), values },
    sessionIds: Array.from({ length: n }, (_, i) => `s${i}`),
  };
}

test('the version of a policy_id is what follows the arm', () => {
  assert.equal(versionOfPolicyId('random_explore:loop-2026-11-20'), 'loop-2026-11-20');
  assert.equal(versionOfPolicyId('control:a:b'), 'a:b');
  for (const bad of ['production', ':v1', 'arm:']) assert.throws(() => versionOfPolicyId(bad), (e: unknown) => e instanceof InputError && /policy_id/.test(e.message));
});

test('μ(s) per row from the versions the rows name; every arm of a version shares its μ', async () => {
  const values = ['uniform:production', 'control:production', 'uniform:v2'];
  const b = batchOf(['uniform:production', 'uniform:v2', 'control:production', 'uniform:v2'], values);
  const mu = await behaviorMeans(b, { store: '/nonexistent', model: 'fusion', policies: { production: 'const:1,2', v2: 'const:3,4' } });
  assert.deepEqual(Array.from(mu), [1, 2, 3, 4, 1, 2, 3, 4]);
});

test('a version neither named nor in the store, a row without policy_id, and logs without the column are refused by name', async () => {
  const dir = tempDir('behavior-means-');
  const store = join(dir, 'models');
  mkdirSync(join(store, 'fusion', 'v1'), { recursive: true }); // a version folder without policy.onnx
  assert.throws(() => behaviorSpec('v1', { store, model: 'fusion', policies: {} }), (e: unknown) => e instanceof InputError && e.message.includes('train.behavior_policies') && e.message.includes("'v1'"));
  assert.equal(behaviorSpec('v1', { store, model: 'fusion', policies: { v1: 'const:0,0' } }), 'const:0,0');
  await assert.rejects(
    behaviorMeans(batchOf(['a:v9'], ['a:v9']), { store, model: 'fusion', policies: {} }),
    (e: unknown) => e instanceof InputError && /version 'v9'/.test(e.message),
  );
  await assert.rejects(
    behaviorMeans(batchOf(['a:v1', null], ['a:v1']), { store, model: 'fusion', policies: { v1: 'const:0,0' } }),
    (e: unknown) => e instanceof InputError && /row 1 has no policy_id/.test(e.message),
  );
  await assert.rejects(
    behaviorMeans({ ...batchOf(['a:v1'], ['a:v1']), policyId: null }, { store, model: 'fusion', policies: {} }),
    (e: unknown) => e instanceof InputError && /no policy_id column/.test(e.message),
  );
  // a const spec with the wrong number of weights is the spec's own error, naming the field
  await assert.rejects(
    behaviorMeans(batchOf(['a:v1'], ['a:v1']), { store, model: 'fusion', policies: { v1: 'const:1' } }),
    (e: unknown) => e instanceof InputError && /train\.behavior_policies/.test(e.message),
  );
});
