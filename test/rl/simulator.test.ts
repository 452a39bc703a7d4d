/**
 * Issue 17 §5, small and fixed-seed, in the paper's setting (the default world: production = the constant
 * α tuned by CMA-ES on the true discounted return, logs = its mixed multi-exploration with item signals):
 * BCQ at the pipeline's defaults (networks and steps made small) beats the tuned constant in the
 * simulator's ground truth, paired 95% CI above zero. The full-size study (3 training seeds × 2 log seeds)
 * is src/rl/README.md §5. Measured at this size (3 days × 3,000 sessions, 6,000 steps, truth 10,000 sessions,
 * seed 22): log seed 21 (the test's) +1.03% [0.66, 1.40]; log seeds 23 and 24 (not tuned on) +1.01% [0.65,
 * 1.36] and +1.53% [1.20, 1.86]; with 3,000 truth sessions seed 23's interval reached below 0 ([−0.09, 1.22]),
 * hence 10,000. Before issue 17's generative model and action interval a smaller setup (3 × 1,000 sessions,
 * 3,000 steps) lost to the tuned constant (−2.9 [−6.2, 0.3], src/rl/README.md §3.4).
 *
 * Issue 4 §5, small and fixed-seed, in the legacy scenario (production = the hand-tuned constant α, which
 * leaves the logs far from the best constant): on a simulated 3-day log, the BCQ policy trained with the
 * default algorithm settings (src/rl/README.md §3; only the network widths and step count are made small)
 * beats the behavior policy in the simulator's ground truth, with the paired 95% interval (same sessions,
 * common random numbers) above zero. In the default scenario — production is the tuned constant — BCQ does
 * not (yet) beat production: src/rl/README.md §5. The full-size study is test/rl/study.ts.
 *
 * It can fail: with the paper's one-step targets (nStep 1) this very setup loses to the behavior policy
 * (−18.9 [−22.5, −15.2], src/rl/README.md §6).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runStudy } from './study.ts';

const work = mkdtempSync(join(tmpdir(), 'mtf-rl-sim-'));
/** The paper's-setting test's size (MTF_SIM_TEST_* override it to explore sizes; CI uses these). */
const SMALL = {
  sessionsPerDay: Number(process.env.MTF_SIM_TEST_SESSIONS ?? 3000),
  steps: Number(process.env.MTF_SIM_TEST_STEPS ?? 6000),
  logSeed: Number(process.env.MTF_SIM_TEST_LOG_SEED ?? 21),
  truthSessions: Number(process.env.MTF_SIM_TEST_TRUTH ?? 10000),
};
after(() => rmSync(work, { recursive: true, force: true }));

test("paper's setting: BCQ beats the tuned constant production in the simulator (paired 95% CI of the discounted-return lift above 0)", { timeout: 600_000 }, async () => {
  const t0 = performance.now();
  const result = await runStudy({
    work: join(work, 'tuned'),
    sessionsPerDay: SMALL.sessionsPerDay,
    days: 3,
    endDate: '2026-11-20',
    logSeed: SMALL.logSeed,
    scenario: 'tuned-production',
    steps: SMALL.steps,
    seeds: [0],
    algos: ['bcq'],
    config: { actorHidden: [64, 64], criticHidden: [64, 64], vaeHidden: [64, 64], logEvery: 1000 },
    truthSessions: SMALL.truthSessions,
    truthSeed: 22,
  });
  const lift = result.versus.find((v) => v.bcq === 'BCQ' && v.other === 'production (tuned constant)')!;
  const f = (x: number) => x.toFixed(2);
  process.stderr.write(
    `# BCQ − tuned constant: ${f(lift.discounted_return.mean)} [${f(lift.discounted_return.ci95[0])}, ${f(lift.discounted_return.ci95[1])}], ` +
      `${f(100 * lift.relative.mean)}% [${f(100 * lift.relative.ci95[0])}, ${f(100 * lift.relative.ci95[1])}]; ${((performance.now() - t0) / 1000).toFixed(0)} s (train ${result.seconds.train.toFixed(0)} s)\n`,
  );
  assert.ok(lift.discounted_return.ci95[0] > 0, `BCQ − tuned constant: ${f(lift.discounted_return.mean)} [${f(lift.discounted_return.ci95[0])}, ${f(lift.discounted_return.ci95[1])}] does not exclude 0`);
});

test('legacy scenario: BCQ beats the behavior policy in the simulator (paired 95% CI of the discounted-return lift above 0)', { timeout: 300_000 }, async () => {
  const t0 = performance.now();
  const result = await runStudy({
    work,
    sessionsPerDay: 1000,
    days: 3,
    endDate: '2026-11-20',
    logSeed: 21,
    scenario: 'hand-tuned-production',
    steps: 3000,
    seeds: [0],
    algos: ['bcq'],
    config: { actorHidden: [64, 64], criticHidden: [64, 64], vaeHidden: [64, 64], logEvery: 1000 },
    truthSessions: 2000,
    truthSeed: 22,
  });
  const row = (name: string) => result.rows.find((r) => r.name === name)!;
  const bcq = row('BCQ');
  const lift = result.versus.find((v) => v.bcq === 'BCQ' && v.other === 'behavior')!.discounted_return;
  const f = (x: number) => x.toFixed(1);
  const line = (name: string) => `${name} ${f(row(name).truth.discounted_return.mean)}`;
  process.stderr.write(
    `# ${['behavior', 'production (hand-tuned constant)', 'tuned constant', 'BCQ'].map(line).join(', ')}; BCQ − behavior 95% CI [${f(lift.ci95[0])}, ${f(lift.ci95[1])}]; ` +
      `${((performance.now() - t0) / 1000).toFixed(0)} s (train ${result.seconds.train.toFixed(0)} s)\n`,
  );
  assert.ok(lift.ci95[0] > 0, `BCQ − behavior, discounted return: ${f(lift.mean)} [${f(lift.ci95[0])}, ${f(lift.ci95[1])}] does not exclude 0`);
  // the critic's estimate at session starts stays in the range of true returns (no run-away Q)
  assert.ok(bcq.criticQ0 !== null && bcq.criticQ0 > 0 && bcq.criticQ0 < 2 * bcq.truth.discounted_return.mean, `Q(s₀, π(s₀)) = ${bcq.criticQ0}`);
});
