/**
 * The exploration contract (issue 18 §1, first piece): the test vectors in schemas/ reproduce exactly;
 * arm shares follow the settings; a session keeps its arm; the key changes the assignment; action_logp
 * is the diagonal-Gaussian log-density of the float32 α (by hand, and as the simulator's behavior
 * policy computes it); bad settings are rejected naming the field.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { NUM_TASKS } from '../../src/sim/config.ts';
import type { PolicyContext } from '../../src/sim/policy.ts';
import { behaviorPolicy, constantPolicy } from '../../src/sim/policies.ts';
import {
  DEFAULT_EXPLORATION,
  actionLogp,
  assignArm,
  explore,
  exploreRequest,
  parseExplorationSettings,
  policyId,
  sessionUniform,
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

  test('every vector reproduces exactly from its inputs', () => {
    for (const v of doc.vectors) {
      const settings = parseExplorationSettings(v.settings);
      const what = `${v.key}/${v.session_id}`;
      assert.equal(sessionUniform(v.session_id, v.key), v.u, what);
      const d = exploreRequest(v.session_id, v.key, settings, v.mu, v.z, v.model_version);
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
