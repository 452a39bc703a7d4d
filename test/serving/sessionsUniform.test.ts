/**
 * The bounded uniform arm through the serving paths (issue 21 §3): FusionScorer.scoreSessions on a real
 * store — a uniform-arm session's α = float32(μ + h(2u − 1)), inside the float32 box μ ± h, its
 * action_logp = −k ln 2h, its candidates ranked by Eq. 1 with that α; with draws of its own as well —
 * and the simulator's ranking stacks: uniforms come from their own per-session stream, so the
 * normals z of the gaussian arms, and every gaussian result, are what they were before issue 21.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { constantStackPolicy } from '../../src/serving/rankingStack.ts';
import { assignArm, explore, FusionScorer, type PublishedExploration } from '../../src/serving/index.ts';
import type { PolicyContext } from '../../src/sim/policy.ts';
import { Rng, STREAM } from '../../src/sim/rng.ts';
import { publishRandom, randomSpec, randomStates, randomTaskScores, seeded } from '../export/helpers.ts';
import { tempDir } from '../helpers/tmp.ts';

const SPEC = { stateDim: 5, actionDim: 3 };
const K = SPEC.actionDim;
const H = 0.2;
/** −k ln 2h = −3 ln 0.4 = 2.748872195622465 */
const LOGP = 2.748872195622465;

const EXP: PublishedExploration = {
  key: 'uniform-sessions-test',
  arms: [
    { name: 'box', share: 0.5, kind: 'uniform', halfWidth: H },
    { name: 'noise', share: 0.3, sigma: 0.1 },
    { name: 'control', share: 0.2, sigma: 0 },
  ],
};

const row = (x: Float32Array, i: number, m: number) => Array.from(x.subarray(i * m, (i + 1) * m));

function inBox(alpha: number[], mu: number[]): boolean {
  return alpha.every((a, j) => a >= Math.fround(mu[j] - H) && a <= Math.fround(mu[j] + H));
}

describe('FusionScorer.scoreSessions with a bounded uniform arm', () => {
  let scorer: FusionScorer;
  const [n, C] = [200, 10];
  const states = randomStates(randomSpec(SPEC), n, 31);
  const o = randomTaskScores(n, C, K, 32);
  const ids = Array.from({ length: n }, (_, i) => `u-${i}`);
  const rnd = seeded(33);
  const z = Float32Array.from({ length: n * K }, () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd()));
  const u = Float64Array.from({ length: n * K }, () => rnd());

  before(async () => {
    const store = tempDir();
    publishRandom(store, 'feed', { seed: 5, spec: SPEC, exploration: EXP });
    scorer = await FusionScorer.open(store, 'feed', { pollMs: 0 });
    assert.deepEqual(scorer.manifest.exploration, EXP, 'the manifest carries kind and halfWidth');
  });
  after(async () => {
    await scorer.close();
  });

  test("with the caller's draws: α = explore(μ, arm, u) inside the box, action_logp = −k ln 2h, ranked by Eq. 1 with α", async () => {
    const r = await scorer.scoreSessions(states, o, ids, z, u);
    const beta = scorer.manifest.beta;
    let boxRows = 0;
    for (let i = 0; i < n; i++) {
      const arm = assignArm(ids[i], EXP.key, EXP);
      assert.equal(r.arms[i], arm.name);
      const mu = row(r.meanWeights, i, K);
      const alpha = row(r.fusionWeights, i, K);
      if (arm.kind !== 'uniform') continue;
      boxRows++;
      assert.deepEqual(alpha, Array.from(explore(mu, arm, u.subarray(i * K, (i + 1) * K))), `row ${i}`);
      assert.ok(inBox(alpha, mu), `row ${i}: α ${alpha} in μ ${mu} ± ${H}`);
      assert.equal(r.actionLogp[i], LOGP, `row ${i}`);
      assert.equal(r.policyIds[i], 'box:v000001');
      for (let c = 0; c < C; c++) {
        let f = 0;
        for (let j = 0; j < K; j++) f += alpha[j] * Math.log(Math.fround(o[(i * C + c) * K + j] + Math.fround(beta[j])));
        assert.ok(Math.abs(r.scores[i * C + c] - f) <= 1e-4 * (1 + Math.abs(f)), `row ${i} candidate ${c}: ${r.scores[i * C + c]} vs Eq. 1 ${f}`);
      }
    }
    assert.ok(boxRows >= 70, `${boxRows} uniform-arm rows of ${n}`);
  });

  test('the gaussian rows read z as before: the same α and action_logp with or without uniforms for the other arm', async () => {
    const r = await scorer.scoreSessions(states, o, ids, z, u);
    const other = await scorer.scoreSessions(states, o, ids, z, Float64Array.from(u, (x) => 1 - x));
    for (let i = 0; i < n; i++) {
      if (r.arms[i] === 'box') continue;
      assert.deepEqual(row(other.fusionWeights, i, K), row(r.fusionWeights, i, K), `row ${i} (${r.arms[i]})`);
      assert.equal(other.actionLogp[i], r.actionLogp[i]);
    }
  });

  test('with draws of its own (mtf serve): inside the box, action_logp −k ln 2h, and the uniforms spread over it', async () => {
    const r = await scorer.scoreSessions(states, o, ids);
    const pos: number[] = [];
    for (let i = 0; i < n; i++) {
      if (r.arms[i] !== 'box') continue;
      const mu = row(r.meanWeights, i, K);
      const alpha = row(r.fusionWeights, i, K);
      assert.ok(inBox(alpha, mu), `row ${i}`);
      assert.equal(r.actionLogp[i], LOGP);
      for (let j = 0; j < K; j++) pos.push((alpha[j] - mu[j]) / H); // ∈ [−1, 1], uniform
    }
    const m = pos.reduce((s, x) => s + x, 0) / pos.length;
    const v = pos.reduce((s, x) => s + (x - m) ** 2, 0) / pos.length;
    // U[−1, 1]: mean 0, variance 1/3 (sd of the mean ≈ 0.577/√(≥210) ≈ 0.04)
    assert.ok(Math.abs(m) < 0.16, `mean ${m}`);
    assert.ok(Math.abs(v - 1 / 3) < 0.08, `variance ${v}`);
    assert.ok(Math.min(...pos) < -0.8 && Math.max(...pos) > 0.8, 'the draws reach both ends of the box');
  });
});

describe('the ranking stack (simulator) with a bounded uniform arm', () => {
  const n = 60;
  const ctx = { active: new Uint8Array(n).fill(1) } as unknown as PolicyContext;
  const mu = [0.5, 1.5, -0.25];

  function run(exploration: PublishedExploration) {
    const stack = constantStackPolicy(mu, exploration, 'c');
    for (let s = 0; s < n; s++) stack.beginSession!(s, 100 + s, `sess-${s}`);
    const alpha = Float32Array.from(stack.act(new Float32Array(n), n, ctx) as Float32Array);
    return { stack, alpha };
  }

  test("uniform rows from the session's own uniform stream: α in the box, logp −k ln 2h; gaussian rows from the normal stream as before", () => {
    const { stack, alpha } = run(EXP);
    const kinds = new Set<string>();
    for (let s = 0; s < n; s++) {
      const arm = assignArm(`sess-${s}`, EXP.key, EXP);
      kinds.add(arm.name);
      const a = Array.from(alpha.subarray(s * K, (s + 1) * K));
      if (arm.kind === 'uniform') {
        const ur = new Rng(100 + s, STREAM.explorationUniform);
        const us = Array.from({ length: K }, () => ur.uniform());
        assert.deepEqual(a, Array.from(explore(mu, arm, us)), `slot ${s}`);
        assert.ok(inBox(a, mu));
        assert.equal(stack.logp[s], LOGP);
      } else if (arm.sigma! > 0) {
        // the normals are the session's policy stream, exactly as a gaussian-only stack draws them
        const zr = new Rng(100 + s, STREAM.policy);
        const zs = Float32Array.from({ length: K }, () => zr.normal());
        assert.deepEqual(a, Array.from(explore(mu, arm, zs)), `slot ${s}`);
      } else assert.ok(Number.isNaN(stack.logp[s]), 'control: no density');
    }
    assert.deepEqual([...kinds].sort(), ['box', 'control', 'noise']);
  });
});
