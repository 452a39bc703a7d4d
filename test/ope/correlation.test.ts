/**
 * The correlation study, small (the full one: test/ope/correlation.study.ts, README figures): seven
 * policies of very different true value — the logged behavior, the production α it explores around, the
 * tuned constant, a uniformly random α, one worse constant in distribution and two far outside the data
 * (`play-negative` is truly bad: a stand-in for TD3's out-of-distribution actions, which this test has no
 * time to train) — estimated off-policy with small FQE settings (K = 1500, 64 × 64) and rolled out in
 * the simulator. Options: smallStudyOptions in study.ts.
 *
 * Measured with the default estimator (logsumexp penalty, α = 5e-3, τ = 0.01, clipped values, penalty
 * faded where the data cover π_e(s): penaltySupport 'nearest', src/ope/README.md deviation 7) by
 * `node --import tsx test/ope/correlation.seeds.ts 3 7 11` (native backend, 2-core VM):
 *
 *   seed  ρ      regret@1  MRE    V̂ / truth: behavior  production  best-constant  random   minus    play-negative
 *   3     0.214  52.6      14.8%  336/349    326/352     209/370        395/318  324/331  132/123
 *   7     0.214  53.4      14.2%  331/349    323/352     219/370        373/317  299/331  111/123
 *   11    0.107  45.0      13.3%  346/349    335/352     199/370        392/325  372/331  132/123
 *
 * (seed 11: the in-distribution `minus`, unpenalised, is overestimated and overtakes production.) With
 * penaltySupport 'off' (the estimator before deviation 7; wasm backend):
 *
 *   seed  ρ      regret@1  MRE    V̂ / truth: behavior  best-constant  random   play-negative
 *   3     0.214  52.6      19.7%  336/349    185/370        391/318  131/123
 *   7     0.214  53.4      19.5%  331/349    184/370        370/317  110/123
 *   11    0.214  45.0      16.6%  346/349    174/370        389/325  132/123
 *
 * and with the paper's estimator (`--fqe '{"alpha":5e-4,"penalty":"linear","clipValues":false}'`):
 * seed 3: ρ 0.214, MRE 41.2%, play-negative −111 (negative, although every reward is ≥ 0);
 * seed 7: ρ 0.214, MRE 23.4%, play-negative 19; seed 11: ρ 0.107, MRE 22.9%, play-negative 45.
 *
 * So what is asserted, each of which the paper's estimator fails on at least one of these seeds: ρ ≥ 0.2
 * on seed 7 (0.214 there with either setting, 0.107 on seed 11 with the defaults; at this size the
 * ranking is limited by the random policy, overestimated, and the best constant, punished as out of
 * distribution — src/ope/README.md), a mean relative error below 30%,
 * every V̂ ≥ 0 (all rewards are ≥ 0: the value clip is wired in); and the behavior check and the paper's
 * qualitative claim — the out-of-distribution bad policy below the behavior policy — which both hold.
 * The test runs seed 7 (41 s here; the seeds script took 57–180 s per seed on the loaded 2-core VM).
 *
 * Since issue 16 the study runs in the legacy scenario explicitly (production = the hand-tuned α; the
 * default world's production is now the tuned constant), the state has 28 features (item signals) and
 * the return-tuned `best-constant` is replaced by the discount-tuned `tuned-constant`. Re-measured on
 * seed 7 (this test): ρ 0.500, regret@1 66.7, MRE 17.6%; V̂/truth behavior 326/349, production 321/352,
 * tuned-constant 307/384, random 327/317, minus 255/331, clickbait 200/293, play-negative 159/123.
 * With fqe.supportFloor 0.5 (issue 19; half the penalty kept where the data cover π_e), seed 7: ρ 0.500,
 * regret@1 66.7, MRE 21.0%; tuned-constant 253/384, minus 244/331, clickbait 181/293 (pushed further down),
 * the rest unchanged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { meanRelativeError, regretAt1, spearman } from '../../src/ope/metrics.ts';
import { tempDir } from '../helpers/tmp.ts';
import { runStudy, smallStudyOptions } from './study.ts';

test('small correlation study: OPE vs simulator ground truth', { timeout: 240_000 }, async (t) => {
  const r = await runStudy(smallStudyOptions(tempDir('mtf-ope-study-'), 7));
  const byName = Object.fromEntries(r.rows.map((x) => [x.name, x]));
  assert.deepEqual(Object.keys(byName), ['behavior', 'production', 'tuned-constant', 'random', 'minus', 'clickbait', 'play-negative']);
  const v = r.rows.map((x) => x.vHat);
  const g = r.rows.map((x) => x.truth);
  assert.equal(r.spearman, spearman(v, g));
  assert.equal(r.regretAt1, regretAt1(v, g));
  assert.equal(r.meanRelativeError, meanRelativeError(v, g));
  assert.equal(r.report.behavior.check, 'ok', r.report.behavior.note);
  t.diagnostic(`Spearman ρ = ${r.spearman.toFixed(3)}, regret@1 = ${r.regretAt1.toFixed(1)}, mean relative error = ${(100 * r.meanRelativeError).toFixed(1)}%`);
  t.diagnostic(r.rows.map((x) => `${x.name} ${x.vHat.toFixed(0)}/${x.truth.toFixed(0)}`).join(', '));
  assert.ok(r.spearman >= 0.2, `Spearman ρ ${r.spearman.toFixed(3)} (measured 0.214 on seed 7)`);
  assert.ok(r.meanRelativeError < 0.3, `mean relative error ${(100 * r.meanRelativeError).toFixed(1)}% (measured 13.3–14.8%; penaltySupport off 16.6–19.7%; the paper's estimator: 41.2%)`);
  for (const x of r.rows) assert.ok(x.vHat >= 0, `${x.name}: V̂ ${x.vHat.toFixed(1)} < 0 although every reward is ≥ 0`);
  const bad = byName['play-negative'];
  assert.ok(bad.truth < byName.behavior.truth / 2, 'the stand-in is truly bad');
  assert.ok(bad.ood > 0.9, `and out of distribution (${bad.ood})`);
  assert.ok(bad.vHat < byName.behavior.vHat, `conservative FQE ranks it below the behavior policy (${bad.vHat.toFixed(1)} vs ${byName.behavior.vHat.toFixed(1)})`);
  assert.ok(byName.behavior.ood < 0.1, 'the logged actions are in distribution');
});
