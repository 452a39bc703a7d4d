import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareTruth, constantPolicy, DEFAULT_PRODUCTION_ALPHA, groundTruth, TRUTH_METRICS } from '../../src/sim/index.ts';
import { meanCi, ratioCi } from '../../src/sim/truth.ts';
import { smallWorld } from './helpers.ts';

const world = smallWorld();

test('ground truth: every metric as { mean, ci95 }, plus sessions and seed', async () => {
  const r = await groundTruth(constantPolicy(DEFAULT_PRODUCTION_ALPHA), { world, sessions: 200, seed: 3 });
  for (const m of TRUTH_METRICS) {
    const e = r[m];
    assert.ok(Number.isFinite(e.mean), m);
    assert.ok(e.ci95[0] <= e.mean && e.mean <= e.ci95[1], m);
    assert.ok(e.ci95[1] - e.ci95[0] > 0, m);
  }
  assert.equal(r.sessions, 200);
  assert.equal(r.seed, 3);
  assert.ok(r.discounted_return.mean < r.return.mean);
  assert.ok(r.dwell_time.mean <= r.return.mean);
  assert.ok(r.session_length.mean >= 1);
  // JSON-able as the CLI prints it.
  assert.deepEqual(JSON.parse(JSON.stringify(r)), r);
});

test('paired comparison: a policy against itself differs by exactly 0; CRN shrinks the interval', async () => {
  const a = constantPolicy(DEFAULT_PRODUCTION_ALPHA);
  const same = await compareTruth(a, constantPolicy(DEFAULT_PRODUCTION_ALPHA), { world, sessions: 150, seed: 1 });
  for (const m of TRUTH_METRICS) assert.deepEqual(same.diff[m], { mean: 0, ci95: [0, 0] });
  const near = DEFAULT_PRODUCTION_ALPHA.map((x, i) => (i === 7 ? x * 1.1 : x));
  const c = await compareTruth(a, constantPolicy(near), { world, sessions: 300, seed: 1 });
  const paired = c.diff.return.ci95[1] - c.diff.return.ci95[0];
  const unpaired = c.a.return.ci95[1] - c.a.return.ci95[0];
  assert.ok(paired < unpaired / 2, `paired CI width ${paired} vs one policy's ${unpaired}`);
});

test('a plain batch function (a trained policy’s forward pass) is a policy too', async () => {
  const fn = (_states: Float32Array, n: number) => {
    const a = new Float32Array(n * 8);
    for (let s = 0; s < n; s++) a.set(DEFAULT_PRODUCTION_ALPHA, s * 8);
    return a;
  };
  const c = await compareTruth(fn, constantPolicy(DEFAULT_PRODUCTION_ALPHA), { world, sessions: 50, seed: 4 });
  assert.equal(c.a.policy, 'a');
  assert.equal(c.diff.return.mean, 0);
  assert.equal((await groundTruth(fn, { world, sessions: 10, seed: 1 })).policy, 'fn');
});

test('interval helpers: normal approximation and a ratio of sums', () => {
  const m = meanCi([1, 2, 3, 4]);
  assert.equal(m.mean, 2.5);
  assert.ok(Math.abs(m.ci95[1] - 2.5 - 1.959963984540054 * Math.sqrt(5 / 3 / 4)) < 1e-12);
  const r = ratioCi([1, 2, 3], [2, 4, 6]);
  assert.equal(r.mean, 0.5);
  assert.deepEqual(r.ci95, [0.5, 0.5]);
});
