/**
 * The items' logged signals (src/sim/itemSignals.ts) and the state's decaying averages of them
 * (README §1.1 "Item signals", §1.5).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { behaviorPolicy, rollout, STATE_DIM, STATE_NAMES, type Engine } from '../../src/sim/index.ts';
import { ITEM_HISTORY_EMA, ITEM_HISTORY_NAMES, ITEM_HISTORY_OFFSET } from '../../src/sim/features.ts';
import { binomial, ITEM_SIGNAL_DIM } from '../../src/sim/itemSignals.ts';
import { Rng } from '../../src/sim/rng.ts';
import { corr, mean, smallWorld } from './helpers.ts';

const world = smallWorld();


const signal = (m: number) => Float64Array.from({ length: world.nItems }, (_, i) => world.itemSignal[i * ITEM_SIGNAL_DIM + m]);

test('the signals do not change the rest of the world (their own random stream)', () => {
  const fnv = (...arrs: ArrayBufferView[]) => {
    let h = 0x811c9dc5;
    for (const a of arrs) {
      const b = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
      for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193) >>> 0;
    }
    return h;
  };
  // the small world's fields as the simulator drew them before the item signals existed (commit 5954370)
  const w = world;
  assert.equal(fnv(w.itemQuality, w.itemClickbait, w.itemTraits, w.itemPredErr, w.userProfile, w.userInteractBias, w.pairErrMul, w.itemRec).toString(16), '6cd4ad3d');
});

test('the signals are a function of the world seed, in [0, 1], and the rates are counts over the past impressions', () => {
  const again = smallWorld();
  assert.deepEqual(again.itemSignal, world.itemSignal);
  assert.notDeepEqual(smallWorld({ world: { seed: 3 } }).itemSignal, world.itemSignal);
  assert.equal(world.itemSignal.length, world.nItems * ITEM_SIGNAL_DIM);
  for (const x of world.itemSignal) assert.ok(x >= 0 && x <= 1, `${x}`);
  for (let i = 0; i < world.nItems; i++) {
    const n = world.itemImpressions[i];
    assert.ok(n >= 10, `item ${i}: ${n} impressions`);
    for (const m of [0, 1]) {
      const k = world.itemSignal[i * ITEM_SIGNAL_DIM + m] * n;
      assert.ok(Math.abs(k - Math.round(k)) < 1e-3 * Math.max(1, k), `item ${i} rate ${m}: ${k} of ${n} is not a count`);
    }
  }
  for (let m = 0; m < ITEM_SIGNAL_DIM; m++) assert.ok(Math.abs(world.itemSignalMean[m] - mean(signal(m))) < 1e-6);
});

test('the classifiers and rates are informative but imperfect views of the latents', () => {
  const cq = corr(signal(2), world.itemQuality);
  const cc = corr(signal(3), world.itemClickbait);
  assert.ok(cq > 0.7 && cq < 0.85, `corr(quality score, q) ${cq}`);
  assert.ok(cc > 0.65 && cc < 0.8, `corr(clickbait score, c) ${cc}`);
  const trueRate = (m: number) => Float64Array.from({ length: world.nItems }, (_, i) => world.itemTrueRates[2 * i + m]);
  assert.ok(corr(signal(0), trueRate(0)) > 0.9, 'completion rate tracks its population rate');
  assert.ok(corr(signal(1), trueRate(1)) > 0.9, 'interaction rate tracks its population rate');
  // the population rates follow the response model: quality raises interactions, clickbait suppresses them
  assert.ok(corr(trueRate(1), world.itemQuality) > 0.3);
  assert.ok(corr(trueRate(1), world.itemClickbait) < -0.2);
});

test('binomial: exact inversion for small means, normal approximation above, both with the right moments', () => {
  const rng = new Rng(42);
  for (const [n, p] of [[40, 0.1], [300, 0.02], [50, 0.97], [2000, 0.3], [500, 0.8]] as const) {
    const draws = Float64Array.from({ length: 40_000 }, () => binomial(rng, n, p));
    const m = mean(draws);
    const v = mean(draws.map((x) => (x - m) ** 2));
    assert.ok(Math.abs(m - n * p) < 4 * Math.sqrt((n * p * (1 - p)) / draws.length), `n ${n} p ${p}: mean ${m}`);
    assert.ok(Math.abs(v / (n * p * (1 - p)) - 1) < 0.05, `n ${n} p ${p}: variance ${v}`);
    assert.ok(draws.every((x) => Number.isInteger(x) && x >= 0 && x <= n));
  }
  assert.equal(binomial(rng, 10, 0), 0);
  assert.equal(binomial(rng, 10, 1), 10);
});

test('the state ends with decaying averages of the shown items’ signals, following their EMA definition', async () => {
  assert.deepEqual(STATE_NAMES.slice(ITEM_HISTORY_OFFSET), [...ITEM_HISTORY_NAMES]);
  assert.equal(ITEM_HISTORY_OFFSET + ITEM_HISTORY_NAMES.length, STATE_DIM);
  // per slot: the item EMAs the state should hold at the next request
  const expected = new Float64Array(world.config.session.slots * ITEM_SIGNAL_DIM);
  let checked = 0;
  const recorder = {
    onStep(e: Engine, s: number) {
      const st = e.states.subarray(s * STATE_DIM + ITEM_HISTORY_OFFSET, (s + 1) * STATE_DIM);
      const x = expected.subarray(s * ITEM_SIGNAL_DIM, (s + 1) * ITEM_SIGNAL_DIM);
      if (e.step[s] === 0) x.set(world.itemSignalMean);
      for (let j = 0; j < ITEM_SIGNAL_DIM; j++) assert.ok(Math.abs(st[j] - x[j]) < 1e-5, `step ${e.step[s]} feature ${j}: ${st[j]} vs ${x[j]}`);
      checked++;
      const item = e.lastItem[s];
      for (let j = 0; j < ITEM_SIGNAL_DIM; j++) x[j] = ITEM_HISTORY_EMA * x[j] + (1 - ITEM_HISTORY_EMA) * world.itemSignal[item * ITEM_SIGNAL_DIM + j];
    },
  };
  const r = await rollout({ world, policy: behaviorPolicy(), sessions: 150, seed: 3, recorder });
  assert.equal(checked, r.steps);
  assert.ok(r.steps > 1000);
});
