import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ARMS,
  batchPolicy,
  behaviorPolicy,
  constantPolicy,
  DEFAULT_PRODUCTION_ALPHA,
  oraclePolicy,
  rollout,
  type FusionPolicy,
  type StepRecorder,
} from '../../src/sim/index.ts';
import type { Engine } from '../../src/sim/engine.ts';
import { smallWorld } from './helpers.ts';

const world = smallWorld();
const K = 8;

/** Collects (arm, α, logp) of every request. */
class Spy implements StepRecorder {
  rows: { arm: number; alpha: number[]; logp: number }[] = [];
  constructor(private readonly p: FusionPolicy) {}
  onStep(e: Engine, s: number): void {
    this.rows.push({ arm: this.p.arm![s], alpha: Array.from(e.alpha.subarray(s * K, s * K + K)), logp: this.p.logp![s] });
  }
}

test('behavior policy: half the sessions per arm, and action_logp is the exact Gaussian log-density of the logged α', async () => {
  const p = behaviorPolicy();
  const spy = new Spy(p);
  await rollout({ world, policy: p, sessions: 300, seed: 4, recorder: spy });
  assert.deepEqual(p.armIds, [...ARMS]);
  const sd = [0.3, 0.1];
  const mu = Float32Array.from(DEFAULT_PRODUCTION_ALPHA);
  let random = 0;
  for (const r of spy.rows) {
    let sq = 0;
    for (let i = 0; i < K; i++) sq += ((Math.fround(r.alpha[i]) - mu[i]) / sd[r.arm]) ** 2;
    const want = -0.5 * sq - K * Math.log(sd[r.arm]) - (K / 2) * Math.log(2 * Math.PI);
    assert.ok(Math.abs(r.logp - want) < 1e-9, `logp ${r.logp} vs ${want}`);
    if (r.arm === 0) random++;
  }
  const share = random / spy.rows.length;
  assert.ok(share > 0.35 && share < 0.65, `random-exploration share of rows ${share}`);
  // The noise really is N(0, σ²) per weight: the action-noise arm's spread is about 0.1.
  const dev = spy.rows.filter((r) => r.arm === 1).map((r) => r.alpha[0] - mu[0]);
  const sdHat = Math.sqrt(dev.reduce((a, x) => a + x * x, 0) / dev.length);
  assert.ok(Math.abs(sdHat - 0.1) < 0.01, `action-noise sd ${sdHat}`);
});

test('behavior policy draws do not disturb the environment: its sessions meet the same users', async () => {
  const a = await rollout({ world, policy: behaviorPolicy(), sessions: 60, seed: 8 });
  const b = await rollout({ world, policy: constantPolicy(DEFAULT_PRODUCTION_ALPHA), sessions: 60, seed: 8 });
  assert.deepEqual(a.user, b.user);
});

test('constant and batch policies give the same α to every slot; the oracle one per latent type', async () => {
  const c = constantPolicy([1, 2, 3, 4, 5, 6, 7, 8]);
  const out = c.act(new Float32Array(3 * 24), 3, null as never) as Float32Array;
  assert.deepEqual(Array.from(out.subarray(16, 24)), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.throws(() => constantPolicy([1, 2]), /expected 8 fusion weights/);
  assert.throws(() => constantPolicy([1, 2, 3, 4, 5, 6, 7, NaN]), /not a finite number/);

  const seen = new Set<number>();
  const fn = batchPolicy('fn', (states, n) => {
    seen.add(n);
    return new Float32Array(n * K).fill(0.5);
  });
  await rollout({ world, policy: fn, sessions: 10, seed: 1, slots: 4 });
  assert.deepEqual([...seen], [4]);

  const alphas = Array.from({ length: world.nTypes }, (_, k) => Array.from({ length: K }, () => k + 1));
  const oracle = oraclePolicy(alphas);
  const spy: FusionPolicy = {
    id: 'spy',
    act(states, n, ctx) {
      const a = oracle.act(states, n, ctx) as Float32Array;
      for (let s = 0; s < n; s++) assert.equal(a[s * K], ctx.userType[s] + 1);
      return a;
    },
  };
  await rollout({ world, policy: spy, sessions: 20, seed: 1 });
});
