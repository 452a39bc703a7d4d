/**
 * The closed forms of README §1.3 against the sampler: with the ranking models' error switched off and
 * a neutral first request (δ = 0), the predictions of the shown items are the true probabilities, so
 * the realised feedback must average to them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { constantPolicy, DEFAULT_PRODUCTION_ALPHA, rollout } from '../../src/sim/index.ts';
import type { Engine, StepRecorder } from '../../src/sim/engine.ts';
import { smallWorld } from './helpers.ts';

test('realised feedback of first requests averages to the predicted (= true) task probabilities', async () => {
  const world = smallWorld({ world: { prediction: { systematicSd: 0, pairSd: 0 }, dynamics: { startSatSd: 0 } }, session: { maxSteps: 1 } });
  const n = 20_000;
  const pred = new Float64Array(8);
  const sumPred = new Float64Array(8);
  const sumReal = new Float64Array(8);
  let m = 0;
  const recorder: StepRecorder = {
    onStep(e: Engine, s: number) {
      if (e.step[s] !== 0) return;
      e.shownPrediction(s, pred);
      for (let t = 0; t < 8; t++) sumPred[t] += t === 7 ? -30 * Math.log(1 - pred[7]) : pred[t]; // play_time task → E[play time]
      const pt = e.lastPlayTime[s];
      sumReal[0] += pt >= 15 ? 1 : 0;
      sumReal[1] += e.lastFinish[s];
      for (let j = 0; j < 4; j++) sumReal[2 + j] += e.lastInteract[s * 4 + j];
      sumReal[6] += 1 - e.lastSkip[s];
      sumReal[7] += pt;
      m++;
    },
  };
  await rollout({ world, policy: constantPolicy(DEFAULT_PRODUCTION_ALPHA), sessions: n, seed: 13, recorder });
  assert.equal(m, n);
  const names = ['long_play', 'finish', 'like', 'share', 'comment', 'follow', 'skip_inv', 'E[play_time_s]'];
  for (let t = 0; t < 8; t++) {
    const p = sumPred[t] / n;
    const r = sumReal[t] / n;
    const se = t === 7 ? 0.6 : Math.sqrt(Math.max(p * (1 - p), 1e-4) / n); // play time: sd ≈ 30 s → se ≈ 0.2 s
    if (process.env.MTF_DEBUG) console.log(names[t], p, r, se);
    assert.ok(Math.abs(p - r) < 4 * se + 1e-3, `${names[t]}: predicted ${p.toFixed(4)}, realised ${r.toFixed(4)}`);
  }
});
