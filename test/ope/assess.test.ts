import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assess, convergenceFlag, policyFlags, FLAG_EXPLANATIONS, type AssessInput } from '../../src/ope/assess.ts';
import { controlGroups } from '../../src/ope/control.ts';
import { pairwiseComparisons, tieAwareRanks } from '../../src/ope/ranking.ts';
import { Rng } from '../../src/ope/rl.ts';
import { identityData, makeBatch, type SessionSpec } from './helpers.ts';

const cfg = { shipMaxOod: 0.2, fqe: { averageLast: 0.5 } };
const steps = (K: number, every: number) => Array.from({ length: K / every }, (_, i) => (i + 1) * every);

/** A curve that settles at 100 with ±2 noise (seeded), TD loss flat after the first fifth. */
function settled(K = 5000, every = 100) {
  const rng = new Rng(3);
  const step = steps(K, every);
  return { step, v_hat: step.map(() => 100 + 2 * rng.normal()), td_loss: step.map((s) => (s < K / 5 ? 1 : 0.3)) };
}

function input(over: Partial<AssessInput> = {}): AssessInput {
  return {
    v_hat: 100,
    ci95: [95, 105],
    bootstrap: { resamples: 20 },
    per_response_weighted_sum: 101,
    importance: { ess: [400, 300], observed: [1000, 900] },
    ood: { share: 0.02 },
    fqe: { iterations: 5000, curves: settled() },
    ...over,
  };
}

test('a healthy result raises no flag', () => {
  assert.deepEqual(policyFlags(input(), cfg), []);
});

test('fqe_not_converged: V̂ still rising over the read-out window, or the TD error still falling', () => {
  const c = settled();
  const rising = { ...c, v_hat: c.step.map((s) => 60 + 50 * (s / 5000)) }; // +25 over the last half
  const f = convergenceFlag(rising, 5000, 0.5);
  assert.equal(f?.code, 'fqe_not_converged');
  assert.match(f!.message, /V̂ moved by \+2/);
  const falling = { ...c, td_loss: c.step.map((s) => 1 / (1 + s / 500)) };
  const g = convergenceFlag(falling, 5000, 0.5);
  assert.equal(g?.code, 'fqe_not_converged');
  assert.match(g!.message, /TD error still falling/);
  // the same drift inside the noise is not a trend
  const noisy = { ...c, v_hat: c.v_hat.map((v, i) => v + (i % 2 ? 15 : -15)) };
  assert.equal(convergenceFlag(noisy, 5000, 0.5), null);
});

test('fqe_curve_short: two curve points cannot show convergence (the quick-run report of the issue)', () => {
  const f = convergenceFlag({ step: [30, 60], v_hat: [200, 320], td_loss: [1, 0.5] }, 60, 0.5);
  assert.equal(f?.code, 'fqe_curve_short');
  assert.deepEqual(policyFlags(input({ fqe: { iterations: 60, curves: { step: [30, 60], v_hat: [200, 320], td_loss: [1, 0.5] } } }), cfg).map((x) => x.code), ['fqe_curve_short']);
});

test('per_response_mismatch: Σ w·v̂ outside V̂ ± its half-width (326.4 vs 284.6 of the issue)', () => {
  const flags = policyFlags(input({ v_hat: 284.6, ci95: [270, 299.2], per_response_weighted_sum: 326.4 }), cfg);
  assert.deepEqual(flags.map((x) => x.code), ['per_response_mismatch']);
  assert.deepEqual(policyFlags(input({ v_hat: 284.6, ci95: [270, 299.2], per_response_weighted_sum: 298 }), cfg), []);
});

test('few_refits below 10 resamples, with the width uncertainty; importance_degenerate; out_of_support', () => {
  const two = policyFlags(input({ bootstrap: { resamples: 2 } }), cfg);
  assert.deepEqual(two.map((x) => x.code), ['few_refits']);
  assert.match(two[0].message, /±71%/);
  assert.deepEqual(policyFlags(input({ bootstrap: { resamples: 10 } }), cfg), []);
  assert.deepEqual(policyFlags(input({ importance: { ess: [12, 3], observed: [1000, 900] } }), cfg).map((x) => x.code), ['importance_degenerate']);
  assert.deepEqual(policyFlags(input({ importance: null }), cfg), []);
  assert.deepEqual(policyFlags(input({ ood: { share: 0.9 } }), cfg).map((x) => x.code), ['out_of_support']);
  for (const code of Object.keys(FLAG_EXPLANATIONS)) assert.ok(FLAG_EXPLANATIONS[code as keyof typeof FLAG_EXPLANATIONS].length > 40, code);
});

test('the verdict in words: better / not distinguishable / worse, against behavior and the served model, and the support', () => {
  const d = (rel: number, lo: number, hi: number) => ({ abs: rel * 100, rel, ci95: [lo * 100, hi * 100] as [number, number], rel_ci95: [lo, hi] as [number, number] });
  const a = assess({ lift: d(0.03, 0.01, 0.05), vs_baseline: d(0.004, -0.01, 0.018), ood: { share: 0 } }, 0.2, 'v7');
  assert.equal(a.vs_behavior, 'better');
  assert.equal(a.vs_baseline, 'indistinguishable');
  assert.equal(a.out_of_support, false);
  assert.equal(a.statement, 'Better than the behavior policy with 95% confidence (+3.0% [+1.0%, +5.0%]); not distinguishable from the served model (v7) (+0.4% [-1.0%, +1.8%]: the interval includes 0).');
  const b = assess({ lift: d(-0.2, -0.3, -0.1), vs_baseline: null, ood: { share: 0.95 } }, 0.2, null);
  assert.equal(b.vs_behavior, 'worse');
  assert.equal(b.out_of_support, true);
  assert.match(b.statement, /^Outside the data's support \(95% of its actions\).*; worse than the behavior policy with 95% confidence/);
});

test('pairwise comparisons: a pair whose paired interval includes 0 is a tie; ranks are wins − losses', () => {
  const rng = new Rng(5);
  const shared = Array.from({ length: 20 }, () => 10 * rng.normal()); // the resample's common shift
  const reps = (level: number, noise: number) => shared.map((s) => level + s + noise * rng.normal());
  const ps = [
    { name: 'b', v_hat: 100, replicates: reps(100, 1) },
    { name: 'a', v_hat: 110, replicates: reps(110, 1) },
    { name: 'c', v_hat: 100.3, replicates: reps(100.3, 1) },
  ];
  const pairs = pairwiseComparisons(ps);
  const win = (x: string, y: string) => pairs.find((p) => (p.a === x && p.b === y) || (p.a === y && p.b === x))!;
  assert.equal(win('a', 'b').winner, win('a', 'b').a === 'a' ? 'a' : 'b');
  assert.equal(win('b', 'c').winner, 'tie');
  // unpaired, the shared shift (sd 10) would hide a 10-point gap: pairing is what resolves it
  const ranks = tieAwareRanks(ps, pairs);
  assert.deepEqual(ranks.map((r) => [r.name, r.rank, r.wins, r.losses]), [['b', 2, 0, 1], ['a', 1, 2, 0], ['c', 2, 0, 1]]);
  assert.deepEqual(ranks.find((r) => r.name === 'b')!.ties, ['c']);
  // fewer than 2 resamples: nothing is known, every pair is a tie, one shared rank
  const none = tieAwareRanks(ps.map((p) => ({ ...p, replicates: [p.v_hat] })));
  assert.deepEqual(none.map((r) => r.rank), [1, 1, 1]);
  assert.equal(pairwiseComparisons(ps.map((p) => ({ ...p, replicates: [] })))[0].ci95, null);
});

test('control groups: the mean discounted return of control:<version> sessions, cut sessions counted apart', () => {
  const sess = (r: number, end: 'done' | 'cut'): SessionSpec => ({ states: [[0], [1]], actions: [[0], [0]], rewards: [r, r], end });
  const specs = [sess(1, 'done'), sess(2, 'done'), sess(3, 'done'), sess(10, 'done'), sess(5, 'cut'), sess(7, 'done')];
  const b = makeBatch(specs);
  // per-row policy ids, by session: control:v3 ×3 + 1 cut, action_noise:v3, control:v2 ×1 (too few to report)
  const ids = ['control:v3', 'control:v3', 'control:v3', 'action_noise:v3', 'control:v3', 'control:v2'];
  b.policyId = { values: ['control:v3', 'action_noise:v3', 'control:v2'], codes: Int32Array.from(specs.flatMap((s, j) => s.rewards.map(() => ['control:v3', 'action_noise:v3', 'control:v2'].indexOf(ids[j])))) };
  const d = identityData(b, 0.5);
  const g = controlGroups(d, b, 0.5);
  assert.equal(g.length, 1);
  assert.equal(g[0].policy_id, 'control:v3');
  assert.equal(g[0].version, 'v3');
  assert.equal(g[0].sessions, 4);
  assert.equal(g[0].cut_sessions, 1);
  assert.ok(Math.abs(g[0].mean - 1.5 * 2) < 1e-9, `${g[0].mean}`); // returns 1.5, 3, 4.5: mean 3
  assert.ok(g[0].ci95[0] < 3 && g[0].ci95[1] > 3);
  b.policyId = null;
  assert.deepEqual(controlGroups(d, b, 0.5), []);
});
