import assert from 'node:assert/strict';
import { test } from 'node:test';
import { constantPolicy, createWorld, DEFAULT_PRODUCTION_ALPHA, rollout, STATE_DIM, STATE_NAMES, type FusionPolicy } from '../../src/sim/index.ts';
import { aliasTable } from '../../src/sim/world.ts';
import { mean, smallWorld } from './helpers.ts';

const world = smallWorld();
const prod = () => constantPolicy(DEFAULT_PRODUCTION_ALPHA);

test('the state has the documented names, 28 of them', () => {
  assert.equal(STATE_NAMES.length, STATE_DIM);
  assert.equal(STATE_DIM, 28);
  assert.equal(new Set(STATE_NAMES).size, STATE_DIM);
});

test('the world is a function of its seed only', () => {
  const a = smallWorld();
  const b = smallWorld();
  const c = smallWorld({ world: { seed: 1 } });
  assert.deepEqual(a.itemQuality, b.itemQuality);
  assert.deepEqual(a.userType, b.userType);
  assert.notDeepEqual(a.itemQuality, c.itemQuality);
});

test('alias tables draw topics with the user’s interest distribution', () => {
  const prob = new Float32Array(5);
  const alias = new Int32Array(5);
  const p = [0.5, 0.2, 0.15, 0.1, 0.05];
  aliasTable(p, prob, alias);
  const counts = new Float64Array(5);
  const n = 200_000;
  for (let i = 0; i < n; i++) {
    const x = ((i + 0.5) / n) * 5;
    const j = Math.floor(x);
    counts[x - j < prob[j] ? j : alias[j]]++;
  }
  for (let j = 0; j < 5; j++) assert.ok(Math.abs(counts[j] / n - p[j]) < 1e-3, `topic ${j}: ${counts[j] / n} vs ${p[j]}`);
});

test('config errors name the field and the rule', () => {
  assert.throws(() => createWorld({ session: { candidates: 4, refresh: 5 } }), /refresh/);
  assert.throws(() => createWorld({ world: { users: 0 } }), /users/);
  assert.throws(() => createWorld({ session: { beta: [0.1, 0.1] } }), /beta/);
});

test('rollouts are deterministic, and independent of the number of parallel slots', async () => {
  const a = await rollout({ world, policy: prod(), sessions: 120, seed: 5 });
  const b = await rollout({ world, policy: prod(), sessions: 120, seed: 5, slots: 7 });
  const c = await rollout({ world, policy: prod(), sessions: 120, seed: 6 });
  assert.deepEqual(a.return, b.return);
  assert.deepEqual(a.length, b.length);
  assert.deepEqual(a.user, b.user);
  assert.notDeepEqual(a.return, c.return);
  assert.equal(a.steps, a.length.reduce((x, y) => x + y, 0));
});

test('common random numbers: the same seed gives every policy the same users', async () => {
  const a = await rollout({ world, policy: prod(), sessions: 100, seed: 9 });
  const b = await rollout({ world, policy: constantPolicy([0, 0, 1, 1, 1, 1, 0, 0]), sessions: 100, seed: 9 });
  assert.deepEqual(a.user, b.user);
  assert.deepEqual(a.userType, b.userType);
  assert.notDeepEqual(a.return, b.return);
});

test('sessions look like short-video sessions: tens of views of tens of seconds', async () => {
  const r = await rollout({ world, policy: prod(), sessions: 400, seed: 1 });
  const len = mean(r.length);
  assert.ok(len > 8 && len < 60, `mean length ${len}`);
  const perView = r.dwell.reduce((x, y) => x + y, 0) / r.steps;
  assert.ok(perView > 8 && perView < 60, `play time per view ${perView}`);
  const ir = r.interactions.reduce((x, y) => x + y, 0) / r.steps;
  assert.ok(ir > 0.02 && ir < 0.6, `interactions per view ${ir}`);
});

test('the policy sees finite states of the documented size, one row per slot', async () => {
  let calls = 0;
  const spy: FusionPolicy = {
    id: 'spy',
    act(states, n, ctx) {
      calls++;
      assert.equal(states.length, n * STATE_DIM);
      assert.equal(n, ctx.slots);
      for (let s = 0; s < n; s++) {
        if (!ctx.active[s]) continue;
        for (let j = 0; j < STATE_DIM; j++) assert.ok(Number.isFinite(states[s * STATE_DIM + j]));
        assert.ok(ctx.userType[s] >= 0 && ctx.userType[s] < world.nTypes);
      }
      return new Float32Array(n * 8).fill(1);
    },
  };
  await rollout({ world, policy: spy, sessions: 50, seed: 2, slots: 16 });
  assert.ok(calls > 5);
});

test('a policy that returns too few weights is an error', async () => {
  const bad: FusionPolicy = { id: 'bad', act: (_s, n) => new Float32Array(n * 4) };
  await assert.rejects(rollout({ world, policy: bad, sessions: 4, seed: 1 }), /returned 16 weights for 4 slots × 8 tasks/);
});

test('userType restricts the sessions to one latent type', async () => {
  const r = await rollout({ world, policy: prod(), sessions: 50, seed: 3, userType: 2 });
  assert.ok(r.userType.every((k) => k === 2));
});
