/**
 * What a ranking stack knows about an item and logs beside it (README §1.1, "Item signals"): the
 * item's historical completion and interaction rates, counted over its impressions *before* the
 * simulated days, and the scores of two content classifiers (quality, clickbait). None of them is a
 * latent: they are noisy, observable views of the latent quality q_i, clickbait c_i and the response
 * model. Drawn once per world from their own stream of the world seed, so the rest of the world is the
 * same as without them; static during a simulation (see the README for why).
 */
import { LOG_FINISH } from './response.ts';
import { Rng, STREAM } from './rng.ts';
import { fastExpNeg, fastSigmoid } from './tables.ts';
import type { World } from './world.ts';

/** The signals' parameters (documented defaults; the equations are in README §1.1). */
export const ITEM_SIGNALS = Object.freeze({
  /** users in the panel whose responses define an item's population rates */
  panelUsers: 64,
  /** n_0: median past impressions of an item of a topic with average popularity (T π_t = 1) */
  impressionsMedian: 300,
  /** sd of log n_i around log(n_0 T π_t) */
  impressionsLogSd: 0.8,
  /** fewest past impressions an item has (the catalog is not brand new) */
  impressionsMin: 10,
  /** most past impressions counted */
  impressionsMax: 50_000,
  /** σ_q: noise (logit) of the quality classifier, s_q = σ(q + σ_q ε) */
  qualityNoiseSd: 0.8,
  /** κ_c: slope (logit) of the clickbait classifier, s_c = σ(κ_c (c − c_0) + σ_c ε) */
  clickbaitSlope: 8,
  /** c_0: the clickbait level the classifier scores ½ */
  clickbaitCenter: 0.4,
  /** σ_c: noise (logit) of the clickbait classifier */
  clickbaitNoiseSd: 2.2,
});

/** The per-item signals, in the order of World.itemSignal's rows and of the logged columns. */
export const ITEM_SIGNAL_NAMES = ['item_completion_rate', 'item_interaction_rate', 'item_quality_score', 'item_clickbait_score'] as const;
export const ITEM_SIGNAL_DIM = ITEM_SIGNAL_NAMES.length;

export interface ItemSignals {
  /** n_i: past impressions the rates were counted over */
  itemImpressions: Int32Array;
  /** true population rates (finish, any positive interaction) at a neutral session state: what the counts estimate */
  itemTrueRates: Float32Array;
  /** [nItems × 4] completion rate, interaction rate, quality score, clickbait score (ITEM_SIGNAL_NAMES) */
  itemSignal: Float32Array;
  /** [4] the catalog mean of each signal: where the state's item EMAs start */
  itemSignalMean: Float32Array;
}

/** The world fields the signals are computed from (a world under construction has them all). */
export type SignalSource = Pick<
  World,
  | 'config' | 'nItems' | 'nUsers' | 'nTopics' | 'itemTopic' | 'itemLogDur' | 'itemQuality' | 'itemClickbait' | 'itemTraits' | 'userType'
  | 'userInterest' | 'userSkipBias' | 'userPlayBias' | 'userInteractBias' | 'userActivityCdf' | 'typeDurationSens' | 'typeSkipDurationSens' | 'typeLure'
>;

/**
 * Draws the item signals of a world. Population rates average the closed-form finish and interaction
 * probabilities (README §1.3, δ = 0) over a panel of users drawn ∝ activity, each weighted by their
 * interest in the item's topic (retrieval brings an item to interested users); the logged rates are
 * binomial counts over n_i past impressions divided by n_i.
 */
export function drawItemSignals(w: SignalSource): ItemSignals {
  const p = ITEM_SIGNALS;
  const wc = w.config.world;
  const rng = new Rng(wc.seed, STREAM.itemSignals);
  const T = w.nTopics;
  const N = w.nItems;

  // The panel, and each panel user's weight for each topic: θ_u[t] ∝ exp(η_u[t]).
  const P = Math.min(p.panelUsers, w.nUsers);
  const panel = new Int32Array(P);
  for (let j = 0; j < P; j++) panel[j] = drawIndex(w.userActivityCdf, rng.uniform());
  const weight = new Float64Array(T * P);
  for (let t = 0; t < T; t++) {
    let sum = 0;
    for (let j = 0; j < P; j++) sum += weight[t * P + j] = Math.exp(w.userInterest[panel[j] * T + t]);
    for (let j = 0; j < P; j++) weight[t * P + j] /= sum;
  }
  // The panel's parameters side by side (the loop below runs nItems × P times).
  const interest = new Float64Array(T * P);
  const skipBias = new Float64Array(P);
  const playBias = new Float64Array(P);
  const skipDur = new Float64Array(P);
  const playDur = new Float64Array(P);
  const lure = new Float64Array(P);
  const interactBias = new Float64Array(4 * P);
  for (let j = 0; j < P; j++) {
    const u = panel[j];
    const k = w.userType[u];
    for (let t = 0; t < T; t++) interest[t * P + j] = wc.interestScale * w.userInterest[u * T + t];
    skipBias[j] = w.userSkipBias[u];
    playBias[j] = w.userPlayBias[u];
    skipDur[j] = w.typeSkipDurationSens[k];
    playDur[j] = w.typeDurationSens[k];
    lure[j] = w.typeLure[k];
    for (let m = 0; m < 4; m++) interactBias[4 * j + m] = w.userInteractBias[u * 4 + m];
  }
  // Topic popularity as the catalog shows it (share of items × T): popular topics have more impressions.
  const topicShare = new Float64Array(T);
  for (let i = 0; i < N; i++) topicShare[w.itemTopic[i]] += T / N;

  const itemImpressions = new Int32Array(N);
  const itemTrueRates = new Float32Array(N * 2);
  const itemSignal = new Float32Array(N * 4);
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  for (let i = 0; i < N; i++) {
    const t = w.itemTopic[i];
    const q = w.itemQuality[i];
    const c = w.itemClickbait[i];
    const ell = w.itemLogDur[i];
    const qA = wc.qualityEffect * q;
    const tr0 = w.itemTraits[i * 4] - 1.5 * c;
    const tr1 = w.itemTraits[i * 4 + 1] - 1.5 * c;
    const tr2 = w.itemTraits[i * 4 + 2] - 1.5 * c;
    const tr3 = w.itemTraits[i * 4 + 3] - 1.5 * c;
    let fin = 0;
    let int = 0;
    for (let j = 0, tj = t * P; j < P; j++, tj++) {
      const A = interest[tj] + qA;
      const lc = lure[j] * c;
      const view = 1 - fastSigmoid(skipBias[j] - A + skipDur[j] * ell - 0.5 * lc);
      const a = Math.exp(playBias[j] + 0.6 * A - playDur[j] * ell + lc);
      const ib = 0.6 * A;
      const none =
        (1 - fastSigmoid(interactBias[4 * j] + ib + tr0)) *
        (1 - fastSigmoid(interactBias[4 * j + 1] + ib + tr1)) *
        (1 - fastSigmoid(interactBias[4 * j + 2] + ib + tr2)) *
        (1 - fastSigmoid(interactBias[4 * j + 3] + ib + tr3));
      const wv = weight[tj] * view;
      fin += wv * (1 - fastExpNeg(a * LOG_FINISH));
      int += wv * (1 - none);
    }
    itemTrueRates[2 * i] = fin;
    itemTrueRates[2 * i + 1] = int;
    const n = Math.round(clamp(p.impressionsMedian * topicShare[t] * Math.exp(p.impressionsLogSd * rng.normal()), p.impressionsMin, p.impressionsMax));
    itemImpressions[i] = n;
    itemSignal[4 * i] = binomial(rng, n, fin) / n;
    itemSignal[4 * i + 1] = binomial(rng, n, int) / n;
    itemSignal[4 * i + 2] = sig(q + p.qualityNoiseSd * rng.normal());
    itemSignal[4 * i + 3] = sig(p.clickbaitSlope * (c - p.clickbaitCenter) + p.clickbaitNoiseSd * rng.normal());
  }
  const itemSignalMean = new Float32Array(4);
  for (let m = 0; m < 4; m++) {
    let s = 0;
    for (let i = 0; i < N; i++) s += itemSignal[4 * i + m];
    itemSignalMean[m] = s / N;
  }
  return { itemImpressions, itemTrueRates, itemSignal, itemSignalMean };
}

/**
 * A Binomial(n, p) count: exact by inversion of the cdf (expected n·min(p, 1 − p) + 1 steps) when
 * n·min(p, 1 − p) < 30, else the normal approximation, rounded and clamped to [0, n] (its error is far
 * below the count's own sd there). One random number per call.
 */
export function binomial(rng: Rng, n: number, p: number): number {
  if (!(p > 0)) return 0;
  if (!(p < 1)) return n;
  const flip = p > 0.5;
  const r = flip ? 1 - p : p;
  const mean = n * r;
  let x: number;
  if (mean < 30) {
    const u = rng.uniform();
    const odds = r / (1 - r);
    let pmf = Math.pow(1 - r, n);
    let cdf = pmf;
    x = 0;
    while (u > cdf && x < n) {
      pmf *= ((n - x) / (x + 1)) * odds;
      x++;
      cdf += pmf;
    }
  } else {
    x = Math.round(clamp(mean + Math.sqrt(mean * (1 - r)) * rng.normal(), 0, n));
  }
  return flip ? n - x : x;
}

function drawIndex(cdf: Float64Array, u: number): number {
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cdf[mid] > u) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}
