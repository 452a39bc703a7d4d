/**
 * The exploration contract (issue 18 §1, first piece): the test vectors in schemas/ reproduce exactly;
 * arm shares follow the settings; a session keeps its arm; the key changes the assignment; action_logp
 * is the diagonal-Gaussian log-density of the float32 α (by hand, and as the simulator's behavior
 * policy computes it); bad settings are rejected naming the field. The bounded uniform arm (issue 21
 * §3): α = float32(μ + h(2u − 1)) by hand, action_logp = −k ln 2h by hand, the float32 box's edges,
 * its settings errors.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { NUM_TASKS } from '../../src/sim/config.ts';
import type { PolicyContext } from '../../src/sim/policy.ts';
import { behaviorPolicy, constantPolicy } from '../../src/sim/policies.ts';
import {
  DEFAULT_EXPLORATION,
  UNIFORM_EXPLORATION,
  UNIFORM_HALF_WIDTH,
  actionLogp,
  armActionLogp,
  assignArm,
  explore,
  exploreRequest,
  exploreRows,
  parseExplorationSettings,
  policyId,
  publishedExploration,
  sessionUniform,
  uniformActionLogp,
  type ExplorationSettings,
} from '../../src/serving/index.ts';

import { VECTORS_PATH, makeVectors, type ExplorationVector } from './exploration.vectors.ts';

const KEY = 'mtf-exploration-test-key';

describe('exploration test vectors (schemas/exploration-test-vectors.json)', () => {
  const doc = JSON.parse(readFileSync(VECTORS_PATH, 'utf8')) as { vectors: ExplorationVector[] };

  test('the file covers every default arm, an integer and a non-ASCII session id', () => {
    assert.ok(doc.vectors.length >= 10);
    for (const arm of DEFAULT_EXPLORATION.arms) assert.ok(doc.vectors.some((v) => v.arm === arm.name), `no vector for ${arm.name}`);
    assert.ok(doc.vectors.some((v) => typeof v.session_id === 'number'));
    assert.ok(doc.vectors.some((v) => /[^\x00-\x7f]/.test(String(v.session_id))));
  });

  test('the file covers the uniform arm (issue 21 §3): its preset, both box edges, settings mixing both kinds', () => {
    const uni = doc.vectors.filter((v) => v.uniforms !== undefined);
    assert.ok(uni.some((v) => v.arm === 'uniform_explore' && v.settings.arms.length === UNIFORM_EXPLORATION.arms.length));
    assert.ok(uni.some((v) => v.uniforms!.every((u) => u === 0) && v.arm === 'uniform_explore'), 'u = 0: the lower edge');
    assert.ok(uni.some((v) => v.uniforms![0] === 1 - 2 ** -53 && v.arm === 'uniform_explore'), 'u → 1: the upper edge');
    const mixed = uni.filter((v) => v.settings.arms.some((a) => a.kind === 'uniform') && v.settings.arms.some((a) => a.kind === undefined && a.sigma! > 0));
    assert.deepEqual(new Set(mixed.map((v) => v.arm)), new Set(['action_noise', 'uniform_explore', 'control']));
    // the gaussian vectors carry z and no uniforms, as before
    for (const v of doc.vectors) if (v.settings.arms.every((a) => a.kind === undefined)) assert.ok(v.z && !v.uniforms, `${v.session_id}`);
  });

  test('every vector reproduces exactly from its inputs', () => {
    for (const v of doc.vectors) {
      const settings = parseExplorationSettings(v.settings);
      const what = `${v.key}/${v.session_id}`;
      assert.equal(sessionUniform(v.session_id, v.key), v.u, what);
      const d = exploreRequest(v.session_id, v.key, settings, v.mu, v.z ?? [], v.model_version, v.uniforms);
      assert.equal(d.arm.name, v.arm, what);
      assert.deepEqual(Array.from(d.alpha), v.alpha, what);
      const bits = Array.from(d.alpha, (x) => {
        const b = Buffer.alloc(4);
        b.writeFloatBE(x, 0);
        return b.toString('hex');
      });
      assert.deepEqual(bits, v.alpha_f32_hex, what);
      assert.equal(d.actionLogp, v.action_logp, what);
      assert.equal(d.policyId, v.policy_id, what);
    }
  });

  test('the generator writes the same vectors as the file holds (the file is current)', () => {
    assert.deepEqual(JSON.parse(JSON.stringify(makeVectors())), doc.vectors);
  });
});

describe('arm assignment', () => {
  const ids = Array.from({ length: 20_000 }, (_, i) => `session-${i}`);

  test('shares over 20,000 synthetic session ids match the settings (±1.5 points, > 6σ)', () => {
    const settings: ExplorationSettings[] = [
      DEFAULT_EXPLORATION,
      { arms: [{ name: 'a', share: 0.7, sigma: 0.2 }, { name: 'b', share: 0.2, sigma: 0.1 }, { name: 'c', share: 0.1, sigma: 0 }] },
    ];
    for (const s of settings) {
      const count = new Map<string, number>();
      for (const id of ids) {
        const arm = assignArm(id, KEY, s).name;
        count.set(arm, (count.get(arm) ?? 0) + 1);
      }
      for (const arm of s.arms) {
        const got = (count.get(arm.name) ?? 0) / ids.length;
        assert.ok(Math.abs(got - arm.share) < 0.015, `${arm.name}: share ${got}, settings ${arm.share}`);
      }
    }
  });

  test('a zero share gets no session; a share of 1 gets them all', () => {
    const s: ExplorationSettings = { arms: [{ name: 'none', share: 0, sigma: 0.3 }, { name: 'all', share: 1, sigma: 0.1 }] };
    for (const id of ids.slice(0, 2000)) assert.equal(assignArm(id, KEY, s).name, 'all');
  });

  test('the same session always gets the same arm (integer ids hash as their decimal text)', () => {
    for (const id of ids.slice(0, 500)) {
      const a = assignArm(id, KEY, DEFAULT_EXPLORATION).name;
      for (let r = 0; r < 3; r++) assert.equal(assignArm(id, KEY, DEFAULT_EXPLORATION).name, a);
    }
    assert.equal(sessionUniform(42, KEY), sessionUniform('42', KEY));
    assert.equal(sessionUniform(42n, KEY), sessionUniform('42', KEY));
    assert.equal(sessionUniform('x', KEY), sessionUniform('x', Buffer.from(KEY, 'utf8')));
  });

  test('another key gives another assignment (independent: about 1 − Σ share² of sessions change arm)', () => {
    let changed = 0;
    const n = 5000;
    for (const id of ids.slice(0, n)) if (assignArm(id, KEY, DEFAULT_EXPLORATION).name !== assignArm(id, 'other key', DEFAULT_EXPLORATION).name) changed++;
    const expected = 1 - DEFAULT_EXPLORATION.arms.reduce((s, a) => s + a.share * a.share, 0); // 0.585
    assert.ok(Math.abs(changed / n - expected) < 0.03, `changed ${changed / n}, expected ≈ ${expected}`);
  });

  test('an empty key is refused', () => {
    assert.throws(() => assignArm('s', '', DEFAULT_EXPLORATION), /key is empty/);
  });
});

describe('explore and actionLogp', () => {
  test('α = float32(float32(μ) + σ z), not clipped; σ = 0 returns μ', () => {
    const a = explore([0.1, 5], { sigma: 0.5 }, [1, 100]);
    assert.equal(a[0], Math.fround(Math.fround(0.1) + 0.5));
    assert.equal(a[1], 55); // far outside any interval: not clipped
    assert.deepEqual(Array.from(explore([0.1, 5], { sigma: 0 }, [])), [Math.fround(0.1), 5]);
    assert.throws(() => explore([0.1, 5], { sigma: 0.5 }, [1]), /expected 2 values/);
    assert.throws(() => explore([0.1, 5], { sigma: 0.5 }, [1, NaN]), /not a finite number/);
  });

  test('actionLogp equals a hand computation on the float32 α', () => {
    const mu = [1, 0.3, 2.5];
    const sigma = 0.1;
    const alpha = explore(mu, { sigma }, [0.5, -1, 2]);
    // hand: −½ Σ ((α_i − μ_i)/σ)² − k (ln σ + ½ ln 2π), α and μ float32
    let sq = 0;
    for (let i = 0; i < 3; i++) sq += ((alpha[i] - Math.fround(mu[i])) / sigma) ** 2;
    const hand = -0.5 * sq - 3 * Math.log(sigma) - 1.5 * Math.log(2 * Math.PI);
    assert.ok(Math.abs(actionLogp(alpha, mu, sigma)! - hand) < 1e-12);
    // z = (0.5, −1, 2) up to float32 rounding: −½·5.25 − 3 ln 0.1 − 1.5 ln 2π
    const ideal = -0.5 * 5.25 - 3 * Math.log(0.1) - 1.5 * Math.log(2 * Math.PI);
    assert.ok(Math.abs(actionLogp(alpha, mu, sigma)! - ideal) < 1e-4);
    // the float32 rounding of α is in the density: the unrounded α gives another value
    const unrounded = [1 + 0.05, 0.3 - 0.1, 2.5 + 0.2];
    assert.notEqual(actionLogp(unrounded, mu, sigma), actionLogp(alpha, mu, sigma));
    assert.equal(actionLogp(Float32Array.from(unrounded), mu, sigma), actionLogp(unrounded, mu, sigma)); // it rounds α itself
  });

  test('control arm: no density (null) at μ, an α ≠ μ is impossible under it', () => {
    assert.equal(actionLogp([0.1, 2], [0.1, 2], 0), null);
    assert.throws(() => actionLogp([0.2, 2], [0.1, 2], 0), /σ = 0/);
  });

  test("actionLogp equals the simulator's behavior-policy density for the same α", async () => {
    const K = NUM_TASKS;
    const mu = Array.from({ length: K }, (_, i) => 0.3 + 0.7 * i);
    const bp = behaviorPolicy({ production: constantPolicy(mu, 'prod'), config: { randomSd: 0.3, noiseSd: 0.1 } });
    const n = 64;
    for (let s = 0; s < n; s++) bp.beginSession!(s, 1000 + s, `s${s}`);
    const ctx = { active: new Uint8Array(n).fill(1) } as unknown as PolicyContext;
    const alpha = await bp.act(new Float32Array(n), n, ctx);
    const sigmaByArm = [0.3, 0.1];
    const armsSeen = new Set<number>();
    for (let s = 0; s < n; s++) {
      const arm = bp.arm[s];
      armsSeen.add(arm);
      const a = alpha.subarray(s * K, (s + 1) * K);
      assert.equal(actionLogp(a, mu, sigmaByArm[arm]), bp.logp[s], `slot ${s} arm ${bp.armIds[arm]}`);
    }
    assert.equal(armsSeen.size, 2);
    // and its arm names are ours: policy_id random_explore:<id> / action_noise:<id>
    assert.deepEqual([...bp.armIds], [policyId('random_explore', 'prod'), policyId('action_noise', 'prod')]);
  });
});

describe('settings', () => {
  test('the defaults: equal random / action-noise shares, a control share, σ as the simulator', () => {
    const s = parseExplorationSettings(DEFAULT_EXPLORATION);
    assert.deepEqual(s.arms.map((a) => [a.name, a.share, a.sigma]), [
      ['random_explore', 0.45, 0.3],
      ['action_noise', 0.45, 0.1],
      ['control', 0.1, 0],
    ]);
  });

  test('shares not summing to 1 are rejected naming the field', () => {
    assert.throws(
      () => parseExplorationSettings({ arms: [{ name: 'a', share: 0.5, sigma: 0.1 }, { name: 'b', share: 0.4, sigma: 0 }] }),
      (e: Error) => /field 'arms'/.test(e.message) && /sum to 1/.test(e.message),
    );
  });

  test('a negative σ is rejected naming the field', () => {
    assert.throws(
      () => parseExplorationSettings({ arms: [{ name: 'a', share: 1, sigma: -0.1 }] }),
      (e: Error) => /field 'arms\.0\.sigma'/.test(e.message),
    );
  });

  test('a negative share, a duplicate name, an empty interval are rejected', () => {
    assert.throws(() => parseExplorationSettings({ arms: [{ name: 'a', share: -0.5, sigma: 0 }, { name: 'b', share: 1.5, sigma: 0 }] }), /field 'arms\.0\.share'/);
    assert.throws(() => parseExplorationSettings({ arms: [{ name: 'a', share: 0.5, sigma: 0 }, { name: 'a', share: 0.5, sigma: 0 }] }), /field 'arms\.1\.name'.*duplicate/);
    assert.throws(() => parseExplorationSettings({ ...DEFAULT_EXPLORATION, actionInterval: { min: 1, max: 1 } }), /actionInterval/);
  });

  test('policy_id is <arm>:<model version>', () => {
    assert.equal(policyId(DEFAULT_EXPLORATION.arms[0], 'v000007'), 'random_explore:v000007');
    assert.throws(() => policyId('control', ''), /empty model version/);
  });
});

describe('bounded uniform arm (issue 21 §3; UnifiedRL, arXiv 2404.17589)', () => {
  const arm = { kind: 'uniform' as const, halfWidth: 0.25 };

  test('α = float32(float32(μ) + h(2u − 1)) by hand; u = ½ gives μ, never clipped', () => {
    const a = explore([0.1, 5, 1], arm, [0.75, 0, 0.5]);
    assert.equal(a[0], Math.fround(Math.fround(0.1) + 0.25 * 0.5)); // 2·0.75 − 1 = 0.5
    assert.equal(a[1], 4.75); // u = 0: μ − h exactly
    assert.equal(a[2], 1); // u = ½: μ
    assert.throws(() => explore([0.1, 5], arm, [0.5]), /expected 2 values/);
    assert.throws(() => explore([0.1, 5], arm, [0.5, 1.5]), /uniforms\[1\] = 1\.5 is outside \[0, 1\)/);
    assert.throws(() => explore([0.1, 5], arm, [-0.1, 0.5]), /uniforms\[0\]/);
    assert.throws(() => explore([0.1], { kind: 'uniform', halfWidth: 0 }, [0.5]), /halfWidth must be finite and > 0/);
  });

  test('action_logp = −k ln 2h by hand, whatever α in the box', () => {
    // k = 3, h = 0.25: −3 ln 0.5 = 3 ln 2 = 2.0794415416798357
    assert.equal(uniformActionLogp([0.1, 5, 1], [0.1, 5, 1], 0.25), 3 * Math.LN2);
    assert.ok(Math.abs(uniformActionLogp([0.2, 4.8, 1.25], [0.1, 5, 1], 0.25) - 2.0794415416798357) < 1e-15);
    // UNIFORM_EXPLORATION's h on 8 tasks: −8 ln 0.26 = 10.776589183732874
    assert.ok(Math.abs(uniformActionLogp(new Array(8).fill(1), new Array(8).fill(1), UNIFORM_HALF_WIDTH) - 10.776589183732874) < 1e-12);
    assert.equal(armActionLogp([0.2], [0.1], arm), -Math.log(0.5));
    assert.equal(armActionLogp([0.2], [0.1], { sigma: 0.1 }), actionLogp([0.2], [0.1], 0.1));
  });

  test("the box's edges: float32(m − h) and float32(m + h) are inside, the next float32 out is impossible (throws)", () => {
    const mu = [0.3]; // not float32-exact: m = float32(0.3)
    const m = Math.fround(0.3);
    const h = 0.13;
    const lo = explore(mu, { kind: 'uniform', halfWidth: h }, [0])[0];
    const hi = explore(mu, { kind: 'uniform', halfWidth: h }, [1 - 2 ** -53])[0];
    assert.equal(lo, Math.fround(m - h));
    assert.equal(hi, Math.fround(m + h));
    assert.equal(explore(mu, { kind: 'uniform', halfWidth: h }, [1])[0], hi, 'u = 1 (a float32-rounded draw) is the upper edge');
    assert.equal(uniformActionLogp([lo], mu, h), -Math.log(2 * h));
    assert.equal(uniformActionLogp([hi], mu, h), -Math.log(2 * h));
    const below = new Float32Array([lo]);
    new Uint32Array(below.buffer)[0] -= 1; // lo > 0: one float32 ulp lower
    const above = new Float32Array([hi]);
    new Uint32Array(above.buffer)[0] += 1;
    assert.ok(below[0] < lo && above[0] > hi);
    assert.throws(() => uniformActionLogp(below, mu, h), /α\[0\] = .* is outside the arm's box .*impossible under a uniform arm/);
    assert.throws(() => uniformActionLogp(above, mu, h), /outside the arm's box/);
    // every α explore() makes is inside: 2,000 draws at the float32 edges of several μ
    for (const x of [0.3, -1.7, 1e-3, 123.456]) {
      for (let i = 0; i < 500; i++) {
        const u = i < 2 ? i * (1 - 2 ** -53) : Math.random();
        const a = explore([x], { kind: 'uniform', halfWidth: h }, [u]);
        assert.equal(uniformActionLogp(a, [x], h), -Math.log(2 * h));
      }
    }
  });

  test('exploreRows: uniform rows read the uniforms (required), gaussian rows read z exactly as without them', () => {
    const settings = { key: 'k', arms: [{ name: 'noise', share: 0.5, sigma: 0.1 }, { name: 'box', share: 0.5, kind: 'uniform' as const, halfWidth: 0.2 }] };
    const ids = Array.from({ length: 40 }, (_, i) => `r${i}`);
    const k = 2;
    const mu = Float32Array.from({ length: 40 * k }, (_, i) => 0.5 + 0.01 * i);
    const z = Float32Array.from({ length: 40 * k }, (_, i) => Math.sin(i + 1));
    const u = Float64Array.from({ length: 40 * k }, (_, i) => (i * 0.37) % 1);
    assert.throws(() => exploreRows(mu, k, ids, settings, z, 'v1'), /arm 'box' is a uniform arm and no uniforms in \[0, 1\) were given/);
    const r = exploreRows(mu, k, ids, settings, z, 'v1', u);
    const gaussOnly = exploreRows(mu, k, ids, { key: 'k', arms: [settings.arms[0], { name: 'box', share: 0.5, sigma: 0 }] }, z, 'v1');
    const kinds = new Set<string>();
    ids.forEach((id, i) => {
      kinds.add(r.arms[i]);
      const m = mu.subarray(i * k, (i + 1) * k);
      const a = r.alpha.subarray(i * k, (i + 1) * k);
      assert.equal(r.explored[i], 1);
      if (r.arms[i] === 'box') {
        for (let j = 0; j < k; j++) assert.equal(a[j], Math.fround(m[j] + 0.2 * (2 * u[i * k + j] - 1)), `${id}[${j}]`);
        assert.equal(r.actionLogp[i], -2 * Math.log(0.4));
        assert.equal(r.policyIds[i], 'box:v1');
      } else {
        assert.deepEqual(Array.from(a), Array.from(gaussOnly.alpha.subarray(i * k, (i + 1) * k)), `${id}: the gaussian rows are as without uniforms`);
        assert.equal(r.actionLogp[i], gaussOnly.actionLogp[i]);
      }
    });
    assert.deepEqual([...kinds].sort(), ['box', 'noise']);
  });

  test('the preset: 90% bounded uniform with h = 0.13, the 10% control arm as the gaussian default', () => {
    const s = parseExplorationSettings(UNIFORM_EXPLORATION);
    assert.deepEqual(s.arms, [
      { name: 'uniform_explore', share: 0.9, kind: 'uniform', halfWidth: 0.13 },
      { name: 'control', share: 0.1, sigma: 0 },
    ]);
    assert.deepEqual(s.arms[1], DEFAULT_EXPLORATION.arms[2]);
    assert.deepEqual(publishedExploration('uniform').arms, s.arms);
    assert.deepEqual(publishedExploration('gaussian').arms, DEFAULT_EXPLORATION.arms);
  });

  test('bad settings are rejected naming the field', () => {
    const one = (a: Record<string, unknown>) => () => parseExplorationSettings({ arms: [{ name: 'a', share: 1, ...a }] });
    assert.throws(one({ kind: 'uniform' }), /field 'arms\.0\.halfWidth': required on a uniform arm/);
    assert.throws(one({ kind: 'uniform', halfWidth: 0.1, sigma: 0.1 }), /field 'arms\.0\.sigma': not allowed on a uniform arm/);
    assert.throws(one({ kind: 'uniform', halfWidth: 0 }), /field 'arms\.0\.halfWidth'/);
    assert.throws(one({ kind: 'uniform', halfWidth: -0.1 }), /field 'arms\.0\.halfWidth'/);
    assert.throws(one({ kind: 'uniform', halfWidth: Infinity }), /field 'arms\.0\.halfWidth'/);
    assert.throws(one({ halfWidth: 0.1 }), /field 'arms\.0\.sigma': required on a gaussian arm/);
    assert.throws(one({ sigma: 0.1, halfWidth: 0.1 }), /field 'arms\.0\.halfWidth': only on a uniform arm/);
    assert.throws(one({ kind: 'laplace', sigma: 0.1 }), /field 'arms\.0\.kind'/);
    // absent kind = gaussian, and an explicit gaussian is the same
    assert.deepEqual(parseExplorationSettings({ arms: [{ name: 'a', share: 1, kind: 'gaussian', sigma: 0.1 }] }).arms[0].kind, 'gaussian');
    assert.equal(parseExplorationSettings({ arms: [{ name: 'a', share: 1, sigma: 0.1 }] }).arms[0].kind, undefined);
  });
});
