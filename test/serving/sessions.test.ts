/**
 * FusionScorer.scoreSessions on a real store with real onnxruntime (issue 18 §1; paper §3.3): the
 * manifest's exploration is applied per session — the arm is assignArm's, stable per session id; α =
 * explore(μ, arm, z) bit for bit with the caller's normals; action_logp is the arm's log-density (null
 * for control); candidates are ranked by Eq. 1 with the α applied, so the ranking moves; a manifest
 * without exploration serves μ under arm `none`; the default shares hold over 2,000 sessions.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { InputError } from '../../src/errors/index.ts';
import {
  actionLogp,
  assignArm,
  defaultPublishedExploration,
  explore,
  FusionScorer,
  NO_EXPLORATION_ARM,
  type PublishedExploration,
  type SessionScoreResult,
} from '../../src/serving/index.ts';
import { publishRandom, randomSpec, randomStates, randomTaskScores, seeded } from '../export/helpers.ts';
import { tempDir } from '../helpers/tmp.ts';

const SPEC = { stateDim: 5, actionDim: 3 };
const K = SPEC.actionDim;
const LOG_2PI = Math.log(2 * Math.PI);

/** Settings with a wide arm (so rankings move), a narrow one and a control share; its own key. */
const EXP: PublishedExploration = {
  key: 'sessions-test-key',
  arms: [
    { name: 'wide', share: 0.5, sigma: 0.5 },
    { name: 'narrow', share: 0.3, sigma: 0.05 },
    { name: 'control', share: 0.2, sigma: 0 },
  ],
};

/** Standard normals from a seeded generator (Box–Muller; the test's, not the code under test's). */
function normals(count: number, seed: number): Float32Array {
  const rnd = seeded(seed);
  return Float32Array.from({ length: count }, () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd()));
}

const row = (x: Float32Array, i: number, m: number) => Array.from(x.subarray(i * m, (i + 1) * m));

/** Candidate indices by descending score. */
function order(scores: Float32Array, i: number, C: number): number[] {
  const s = scores.subarray(i * C, (i + 1) * C);
  return Array.from({ length: C }, (_, c) => c).sort((a, b) => s[b] - s[a] || a - b);
}

/** Eq. (1) in plain double arithmetic: Σ_j α_j·log(o_j + β_j), with o + β as the float32 graph adds them. */
function eq1(alpha: ArrayLike<number>, taskScores: Float32Array, beta: readonly number[], i: number, c: number, C: number): number {
  let f = 0;
  for (let j = 0; j < K; j++) f += alpha[j] * Math.log(Math.fround(taskScores[(i * C + c) * K + j] + Math.fround(beta[j])));
  return f;
}

describe('FusionScorer.scoreSessions with the manifest\'s exploration', () => {
  let scorer: FusionScorer;
  const [n, C] = [300, 20];
  const states = randomStates(randomSpec(SPEC), n, 21);
  const o = randomTaskScores(n, C, K, 22);
  // string ids of several forms, and integer ids as their decimal text (as `mtf serve` passes them)
  const ids = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? String(1_000_000 + i) : i % 3 === 1 ? `user-${i}` : `sess/${i}/é`));
  const z = normals(n * K, 23);
  let r: SessionScoreResult;
  let mean: Awaited<ReturnType<FusionScorer['score']>>;

  before(async () => {
    const store = tempDir();
    publishRandom(store, 'feed', { seed: 4, spec: SPEC, exploration: EXP });
    scorer = await FusionScorer.open(store, 'feed', { pollMs: 0 });
    assert.deepEqual(scorer.manifest.exploration, EXP, 'the version carries the settings');
    r = await scorer.scoreSessions(states, o, ids, z);
    mean = await scorer.score(states, o);
  });
  after(async () => {
    await scorer.close();
  });

  test('arm = assignArm(session id, key, settings); policy_id = <arm>:<version>; every arm used', () => {
    assert.equal(r.n, n);
    assert.equal(r.candidates, C);
    assert.equal(r.version, 'v000001');
    const counts = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const arm = assignArm(ids[i], EXP.key, EXP);
      assert.equal(r.arms[i], arm.name, `session ${ids[i]}`);
      assert.equal(r.policyIds[i], `${arm.name}:v000001`);
      counts.set(arm.name, (counts.get(arm.name) ?? 0) + 1);
    }
    for (const a of EXP.arms) assert.ok((counts.get(a.name) ?? 0) >= 20, `arm ${a.name}: ${counts.get(a.name)} of ${n}`);
  });

  test('with the caller\'s normals: α = explore(μ, arm, z) exactly, action_logp = the arm\'s density; control: μ and null', () => {
    assert.deepEqual(Array.from(r.meanWeights), Array.from(mean.fusionWeights), 'μ is the graph\'s fusion_weights');
    for (let i = 0; i < n; i++) {
      const arm = EXP.arms.find((a) => a.name === r.arms[i])!;
      const mu = row(r.meanWeights, i, K);
      const alpha = row(r.fusionWeights, i, K);
      const zi = Array.from(z.subarray(i * K, (i + 1) * K));
      assert.deepEqual(alpha, Array.from(explore(mu, arm, zi)), `row ${i} (${arm.name})`);
      if (arm.sigma === 0) {
        assert.deepEqual(alpha, mu, `control row ${i} serves μ`);
        assert.equal(r.actionLogp[i], null, `control row ${i}: a point mass has no density`);
        continue;
      }
      assert.notDeepEqual(alpha, mu, `explored row ${i} moved`);
      assert.equal(r.actionLogp[i], actionLogp(alpha, mu, arm.sigma!));
      // and by hand from z (α rounded to float32 moves d by ≤ ~1e-5 here)
      let sq = 0;
      for (const v of zi) sq += v * v;
      const byHand = -0.5 * sq - K * (Math.log(arm.sigma!) + 0.5 * LOG_2PI);
      assert.ok(Math.abs(r.actionLogp[i]! - byHand) <= 1e-3, `row ${i}: ${r.actionLogp[i]} vs ${byHand}`);
    }
  });

  test('an arm belongs to the session, not the call: other order, other normals, same arms', async () => {
    const perm = Array.from({ length: n }, (_, i) => n - 1 - i);
    const s2 = Float32Array.from(perm.flatMap((i) => row(states, i, SPEC.stateDim)));
    const o2 = Float32Array.from(perm.flatMap((i) => Array.from(o.subarray(i * C * K, (i + 1) * C * K))));
    const r2 = await scorer.scoreSessions(s2, o2, perm.map((i) => ids[i]), normals(n * K, 99));
    perm.forEach((i, p) => {
      assert.equal(r2.arms[p], r.arms[i]);
      assert.equal(r2.policyIds[p], r.policyIds[i]);
      if (r.arms[i] !== 'control') assert.notDeepEqual(row(r2.fusionWeights, p, K), row(r.fusionWeights, i, K), 'other z, other α');
    });
  });

  test('scores are Eq. (1) with the α applied, so explored rankings differ from μ\'s; control rows keep the graph\'s scores', () => {
    const beta = scorer.manifest.beta;
    let explored = 0;
    let reordered = 0;
    let newTop = 0;
    for (let i = 0; i < n; i++) {
      if (r.arms[i] === 'control') {
        assert.deepEqual(row(r.scores, i, C), row(mean.scores, i, C), `control row ${i}`);
        continue;
      }
      explored++;
      const alpha = row(r.fusionWeights, i, K);
      for (let c = 0; c < C; c++) {
        const want = eq1(alpha, o, beta, i, c, C);
        const got = r.scores[i * C + c];
        assert.ok(Math.abs(got - want) <= 1e-5 * Math.max(1, Math.abs(want)), `scores[${i}][${c}] = ${got}, Eq. 1 with α gives ${want}`);
      }
      const a = order(r.scores, i, C);
      const b = order(mean.scores, i, C);
      if (a.join() !== b.join()) reordered++;
      if (a[0] !== b[0]) newTop++;
    }
    // measured: 210 of 232 explored rows reordered, 74 with another top candidate
    assert.ok(reordered >= explored / 4, `${reordered} of ${explored} explored rows ranked differently from μ`);
    assert.ok(newTop >= 5, `${newTop} explored rows with another top candidate`);
  });

  test('without normals: z drawn per request — standard normal, a new α each call, the density of the α applied', async () => {
    const a = await scorer.scoreSessions(states, o, ids);
    const b = await scorer.scoreSessions(states, o, ids);
    const zs: number[] = [];
    for (let i = 0; i < n; i++) {
      const arm = EXP.arms.find((x) => x.name === a.arms[i])!;
      const mu = row(a.meanWeights, i, K);
      const alpha = row(a.fusionWeights, i, K);
      if (arm.sigma === 0) {
        assert.deepEqual(alpha, mu);
        assert.deepEqual(row(b.fusionWeights, i, K), mu);
        assert.equal(a.actionLogp[i], null);
        continue;
      }
      assert.notDeepEqual(row(b.fusionWeights, i, K), alpha, `row ${i}: a new draw per call`);
      assert.equal(a.actionLogp[i], actionLogp(alpha, mu, arm.sigma!));
      for (let j = 0; j < K; j++) zs.push((alpha[j] - mu[j]) / arm.sigma!);
    }
    const m = zs.reduce((s, v) => s + v, 0) / zs.length;
    const v = zs.reduce((s, x) => s + (x - m) ** 2, 0) / (zs.length - 1);
    // ~720 draws: sd of the mean ≈ 0.04, of the variance ≈ 0.05
    assert.ok(Math.abs(m) < 0.2, `mean of z ${m}`);
    assert.ok(Math.abs(v - 1) < 0.3, `variance of z ${v}`);
  });

  test('refuses session ids that do not fit: count, empty, normals of the wrong size', async () => {
    const s = states.subarray(0, 2 * SPEC.stateDim);
    const oo = o.subarray(0, 2 * C * K);
    await assert.rejects(scorer.scoreSessions(s, oo, ['a']), (e: unknown) => e instanceof InputError && /session_ids: expected 2 \(one per request\), got 1/.test(e.message));
    await assert.rejects(scorer.scoreSessions(s, oo, ['a', '']), (e: unknown) => e instanceof InputError && /session_ids\[1\]: expected a non-empty string/.test(e.message));
    await assert.rejects(scorer.scoreSessions(s, oo, ['a', 'b'], new Float32Array(5)), /normals must hold 2 × 3 values, got 5/);
  });
});

describe('FusionScorer.scoreSessions without exploration in the manifest', () => {
  test('absent or null: arm none, α = μ, the graph\'s scores, action_logp null; a version with it swapped in explores', async () => {
    const store = tempDir();
    publishRandom(store, 'feed', { seed: 6, spec: SPEC }); // no `exploration` key, as manifests written before it
    const scorer = await FusionScorer.open(store, 'feed', { pollMs: 0 });
    try {
      const [n, C] = [40, 10];
      const states = randomStates(randomSpec(SPEC), n, 31);
      const o = randomTaskScores(n, C, K, 32);
      const ids = Array.from({ length: n }, (_, i) => `u${i}`);
      const check = async (version: string) => {
        assert.equal(scorer.version, version);
        const r = await scorer.scoreSessions(states, o, ids, normals(n * K, 33));
        const base = await scorer.score(states, o);
        assert.deepEqual(r.arms, new Array(n).fill(NO_EXPLORATION_ARM));
        assert.deepEqual(r.policyIds, new Array(n).fill(`none:${version}`));
        assert.deepEqual(r.actionLogp, new Array(n).fill(null));
        assert.deepEqual(Array.from(r.fusionWeights), Array.from(base.fusionWeights));
        assert.deepEqual(Array.from(r.meanWeights), Array.from(base.fusionWeights));
        assert.deepEqual(Array.from(r.scores), Array.from(base.scores));
      };
      assert.equal(scorer.manifest.exploration, undefined);
      await check('v000001');

      publishRandom(store, 'feed', { seed: 7, spec: SPEC, exploration: null });
      assert.equal(await scorer.refresh(), true);
      assert.equal(scorer.manifest.exploration, null);
      await check('v000002');

      // the settings travel with the version: the next one explores
      publishRandom(store, 'feed', { seed: 8, spec: SPEC, exploration: EXP });
      assert.equal(await scorer.refresh(), true);
      const r = await scorer.scoreSessions(states, o, ids, normals(n * K, 33));
      ids.forEach((id, i) => assert.equal(r.policyIds[i], `${assignArm(id, EXP.key, EXP).name}:v000003`));
      assert.ok(r.actionLogp.some((x) => x !== null));
    } finally {
      await scorer.close();
    }
  });
});

describe('the default exploration (random_explore 0.45, action_noise 0.45, control 0.1)', () => {
  test('over 2,000 sessions the arms\' shares follow the settings, with the default σ', async () => {
    const store = tempDir();
    const published = defaultPublishedExploration();
    publishRandom(store, 'feed', { seed: 9, spec: SPEC, exploration: published });
    const scorer = await FusionScorer.open(store, 'feed', { pollMs: 0 });
    try {
      const [n, C] = [2000, 2];
      const states = randomStates(randomSpec(SPEC), n, 41);
      const o = randomTaskScores(n, C, K, 42);
      const ids = Array.from({ length: n }, (_, i) => `session-${i}`);
      const z = normals(n * K, 43);
      const r = await scorer.scoreSessions(states, o, ids, z);
      const counts = new Map<string, number>();
      for (const a of r.arms) counts.set(a, (counts.get(a) ?? 0) + 1);
      assert.deepEqual([...counts.keys()].sort(), ['action_noise', 'control', 'random_explore']);
      for (const arm of published.arms) {
        const share = counts.get(arm.name)! / n;
        const tol = 4 * Math.sqrt((arm.share * (1 - arm.share)) / n); // 4 binomial standard deviations
        assert.ok(Math.abs(share - arm.share) <= tol, `${arm.name}: ${share} of sessions, settings ${arm.share} ± ${tol.toFixed(3)}`);
      }
      // each arm's σ: |α − μ| / |z| recovers it
      for (let i = 0; i < 50; i++) {
        const arm = published.arms.find((a) => a.name === r.arms[i])!;
        const j = Math.abs(z[i * K]) > 0.5 ? 0 : Math.abs(z[i * K + 1]) > 0.5 ? 1 : 2;
        const sigma = (r.fusionWeights[i * K + j] - r.meanWeights[i * K + j]) / z[i * K + j];
        assert.ok(Math.abs(sigma - arm.sigma!) <= 1e-5 + 1e-6 / Math.abs(z[i * K + j]), `row ${i} (${arm.name}): σ ${sigma}`);
      }
    } finally {
      await scorer.close();
    }
  });
});
