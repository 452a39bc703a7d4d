/**
 * The world: users, items and the true response model's parameters, all drawn from the world seed.
 * A world is immutable; sessions (src/sim/engine.ts) only read it. README.md §1 has the equations.
 */
import { NUM_TASKS, SimConfigSchema, type SimConfig, type SimConfigInput } from './config.ts';
import { PROFILE_DIM, profileFeatures } from './features.ts';
import { drawItemSignals, type ItemSignals } from './itemSignals.ts';
import { Rng, STREAM } from './rng.ts';

/** Layout of World.itemRec. */
export const ITEM_REC = { topic: 0, logDur: 1, duration: 2, quality: 3, clickbait: 4, traits: 5, longPlayLog: 9, errMul: 16 } as const;
export const ITEM_REC_STRIDE = 32;

/** Size of the table of standard normals that per-session prediction errors are read from. */
export const NOISE_TABLE_SIZE = 1 << 16;

export interface World extends Readonly<ItemSignals> {
  readonly config: SimConfig;
  readonly nUsers: number;
  readonly nItems: number;
  readonly nTopics: number;
  readonly nTypes: number;
  // items
  readonly itemTopic: Int32Array;
  readonly itemDuration: Float32Array;
  /** ℓ_i = log(d_i / d_ref) */
  readonly itemLogDur: Float32Array;
  readonly itemQuality: Float32Array;
  readonly itemClickbait: Float32Array;
  /** τ_i: [nItems × 4] like, share, comment, follow appeal */
  readonly itemTraits: Float32Array;
  /** log x*_i: the play-ratio quantile that makes a long play (−∞: always, 0: never) */
  readonly itemLongPlayLog: Float64Array;
  /** e_i: [nItems × 8] the ranking models' systematic error, standard normal */
  readonly itemPredErr: Float32Array;
  /** items grouped by topic: topicItems[topicStart[t] … topicStart[t+1]) */
  readonly topicItems: Int32Array;
  readonly topicStart: Int32Array;
  // users
  readonly userType: Int32Array;
  /** η_u: [nUsers × T] log interest, mean-free in the popularity-weighted sense */
  readonly userInterest: Float32Array;
  /** [nUsers × T] θ_u as Walker alias tables (retrieval draws topics from them in O(1)) */
  readonly userTopicAliasProb: Float32Array;
  readonly userTopicAlias: Int32Array;
  /** per-user intercepts: type value + the user's own jitter */
  readonly userSkipBias: Float32Array;
  readonly userPlayBias: Float32Array;
  /** [nUsers × 4] */
  readonly userInteractBias: Float32Array;
  /** b_leave of the type + the user's patience offset ζ_u */
  readonly userLeaveBias: Float32Array;
  readonly userActivity: Float32Array;
  /** cumulative activity: users are drawn ∝ activity */
  readonly userActivityCdf: Float64Array;
  /** [nUsers × PROFILE_DIM] the observable profile features */
  readonly userProfile: Float32Array;
  // type-level parameters, [nTypes]
  readonly typeDurationSens: Float32Array;
  readonly typeSkipDurationSens: Float32Array;
  readonly typeLure: Float32Array;
  readonly typeClickbaitHurt: Float32Array;
  readonly typeInteractSat: Float32Array;
  readonly typeFatigueTime: Float32Array;
  readonly typeRepeatSens: Float32Array;
  /**
   * The same item fields packed per item, for the hot loop that predicts fresh candidates (one cache
   * line pair per item): [ITEM_REC_STRIDE × nItems], offsets in ITEM_REC.
   */
  readonly itemRec: Float32Array;
  /** exp(σ_sys e_i): [nItems × 8] the systematic error as an odds multiplier */
  readonly itemErrMul: Float32Array;
  /** exp(σ_pair n) for NOISE_TABLE_SIZE standard normals n: per-session error as odds multipliers */
  readonly pairErrMul: Float32Array;
  readonly hourCdf: Float64Array;
}

/** Builds the world of a config; the same config (world seed included) gives the same world. */
export function createWorld(input: SimConfigInput | SimConfig = {}): World {
  const config = SimConfigSchema.parse(input);
  const wc = config.world;
  const rng = new Rng(wc.seed, STREAM.world);
  const T = wc.topics;
  const nItems = wc.items;
  const nUsers = wc.users;
  const types = wc.types;
  const nTypes = types.length;

  // Topics: popularity ∝ (t+1)^−x, and a per-topic duration shift (some topics are long-form).
  const topicPop = new Float64Array(T);
  let popSum = 0;
  for (let t = 0; t < T; t++) popSum += topicPop[t] = Math.pow(t + 1, -wc.topicPopularity);
  for (let t = 0; t < T; t++) topicPop[t] /= popSum;
  const topicDurShift = new Float64Array(T);
  for (let t = 0; t < T; t++) topicDurShift[t] = 0.35 * rng.normal();

  // Items.
  const itemTopic = new Int32Array(nItems);
  const itemDuration = new Float32Array(nItems);
  const itemLogDur = new Float32Array(nItems);
  const itemQuality = new Float32Array(nItems);
  const itemClickbait = new Float32Array(nItems);
  const itemTraits = new Float32Array(nItems * 4);
  const itemLongPlayLog = new Float64Array(nItems);
  const itemPredErr = new Float32Array(nItems * NUM_TASKS);
  const popCdf = cumulative(topicPop);
  const lpS = wc.prediction.longPlayS;
  for (let i = 0; i < nItems; i++) {
    const t = drawCdf(popCdf, rng.uniform());
    itemTopic[i] = t;
    const d = clamp(wc.durationRefS * Math.exp(topicDurShift[t] + wc.durationLogSd * rng.normal()), wc.durationMinS, wc.durationMaxS);
    itemDuration[i] = d;
    itemLogDur[i] = Math.log(d / wc.durationRefS);
    const c = Math.pow(rng.uniform(), wc.clickbaitPower);
    itemClickbait[i] = c;
    const q = rng.normal() - wc.clickbaitQuality * c;
    itemQuality[i] = q;
    itemTraits[i * 4 + 0] = 0.6 * rng.normal() + 0.3 * q;
    itemTraits[i * 4 + 1] = 0.8 * rng.normal() + 0.3 * q;
    itemTraits[i * 4 + 2] = 0.8 * rng.normal() + 0.2 * q;
    itemTraits[i * 4 + 3] = 0.8 * rng.normal() + 0.3 * q;
    // Long play ⇔ play time ≥ T_long ⇔ X ≥ x* with ratio = 0.1 + 0.9 X (README §1.3).
    const xStar = (lpS / d - 0.1) / 0.9;
    itemLongPlayLog[i] = xStar <= 0 ? -Infinity : xStar >= 1 ? 0 : Math.log(xStar);
    for (let k = 0; k < NUM_TASKS; k++) itemPredErr[i * NUM_TASKS + k] = rng.normal();
  }
  const topicStart = new Int32Array(T + 1);
  for (let i = 0; i < nItems; i++) topicStart[itemTopic[i] + 1]++;
  for (let t = 0; t < T; t++) topicStart[t + 1] += topicStart[t];
  const topicItems = new Int32Array(nItems);
  const fill = topicStart.slice(0, T);
  for (let i = 0; i < nItems; i++) topicItems[fill[itemTopic[i]]++] = i;

  // Users.
  const typeCdf = cumulative(Float64Array.from(types.map((ty) => ty.share)));
  const userType = new Int32Array(nUsers);
  const userInterest = new Float32Array(nUsers * T);
  const userTopicAliasProb = new Float32Array(nUsers * T);
  const userTopicAlias = new Int32Array(nUsers * T);
  const userSkipBias = new Float32Array(nUsers);
  const userPlayBias = new Float32Array(nUsers);
  const userInteractBias = new Float32Array(nUsers * 4);
  const userLeaveBias = new Float32Array(nUsers);
  const userActivity = new Float32Array(nUsers);
  const userProfile = new Float32Array(nUsers * PROFILE_DIM);
  const theta = new Float64Array(T);
  const jit = wc.styleJitterSd;
  for (let u = 0; u < nUsers; u++) {
    const k = drawCdf(typeCdf, rng.uniform());
    userType[u] = k;
    const ty = types[k];
    // θ_u = softmax(log pop_t + σ_η n_t); η_u[t] = log(T θ_u[t]) clipped to [−3, 3].
    let z = 0;
    for (let t = 0; t < T; t++) {
      theta[t] = Math.exp(Math.log(topicPop[t]) + wc.interestSd * rng.normal());
      z += theta[t];
    }
    let entropy = 0;
    for (let t = 0; t < T; t++) {
      const p = (theta[t] /= z);
      userInterest[u * T + t] = clamp(Math.log(T * p), -3, 3);
      if (p > 0) entropy -= p * Math.log(p);
    }
    aliasTable(theta, userTopicAliasProb.subarray(u * T, (u + 1) * T), userTopicAlias.subarray(u * T, (u + 1) * T));
    userSkipBias[u] = ty.skipBias + jit * rng.normal();
    userPlayBias[u] = ty.playBias + jit * rng.normal();
    for (let j = 0; j < 4; j++) userInteractBias[u * 4 + j] = ty.interactBias[j] + 2 * jit * rng.normal();
    userLeaveBias[u] = ty.leaveBias + wc.patienceSd * rng.normal();
    userActivity[u] = Math.exp(wc.activitySd * rng.normal());
    profileFeatures(
      {
        type: ty,
        skipBias: userSkipBias[u],
        playBias: userPlayBias[u],
        interactBias: userInteractBias.subarray(u * 4, u * 4 + 4),
        leaveBias: userLeaveBias[u],
        activity: userActivity[u],
        interestEntropy: entropy / Math.log(T > 1 ? T : 2),
      },
      rng,
      userProfile.subarray(u * PROFILE_DIM, (u + 1) * PROFILE_DIM),
    );
  }

  const pc = wc.prediction;
  const pairErrMul = new Float32Array(NOISE_TABLE_SIZE);
  for (let i = 0; i < NOISE_TABLE_SIZE; i++) pairErrMul[i] = Math.exp(pc.pairSd * rng.normal());
  const itemErrMul = new Float32Array(nItems * NUM_TASKS);
  for (let i = 0; i < itemErrMul.length; i++) itemErrMul[i] = Math.exp(pc.systematicSd * itemPredErr[i]);

  const itemRec = new Float32Array(nItems * ITEM_REC_STRIDE);
  for (let i = 0; i < nItems; i++) {
    const o = i * ITEM_REC_STRIDE;
    itemRec[o + ITEM_REC.topic] = itemTopic[i];
    itemRec[o + ITEM_REC.logDur] = itemLogDur[i];
    itemRec[o + ITEM_REC.duration] = itemDuration[i];
    itemRec[o + ITEM_REC.quality] = itemQuality[i];
    itemRec[o + ITEM_REC.clickbait] = itemClickbait[i];
    for (let j = 0; j < 4; j++) itemRec[o + ITEM_REC.traits + j] = itemTraits[i * 4 + j];
    itemRec[o + ITEM_REC.longPlayLog] = itemLongPlayLog[i];
    for (let t = 0; t < NUM_TASKS; t++) itemRec[o + ITEM_REC.errMul + t] = itemErrMul[i * NUM_TASKS + t];
  }

  const byType = (f: (ty: (typeof types)[number]) => number) => Float32Array.from(types.map(f));
  const world: Omit<World, keyof ItemSignals> = {
    config,
    nUsers,
    nItems,
    nTopics: T,
    nTypes,
    itemTopic,
    itemDuration,
    itemLogDur,
    itemQuality,
    itemClickbait,
    itemTraits,
    itemLongPlayLog,
    itemPredErr,
    topicItems,
    topicStart,
    userType,
    userInterest,
    userTopicAliasProb,
    userTopicAlias,
    userSkipBias,
    userPlayBias,
    userInteractBias,
    userLeaveBias,
    userActivity,
    userActivityCdf: cumulative(Float64Array.from(userActivity)),
    userProfile,
    typeDurationSens: byType((ty) => ty.durationSens),
    typeSkipDurationSens: byType((ty) => ty.skipDurationSens),
    typeLure: byType((ty) => ty.lure),
    typeClickbaitHurt: byType((ty) => ty.clickbaitHurt),
    typeInteractSat: byType((ty) => ty.interactSat),
    typeFatigueTime: byType((ty) => ty.fatigueTime),
    typeRepeatSens: byType((ty) => ty.repeatSens),
    itemRec,
    itemErrMul,
    pairErrMul,
    hourCdf: cumulative(Float64Array.from(config.session.hourWeights)),
  };
  // What the ranking stack logs about each item (README §1.1): drawn from a stream of its own.
  return { ...world, ...drawItemSignals(world) };
}

/** Normalised cumulative sums (last entry exactly 1). */
export function cumulative(w: Float64Array): Float64Array {
  const out = new Float64Array(w.length);
  let s = 0;
  for (let i = 0; i < w.length; i++) s += w[i];
  let acc = 0;
  for (let i = 0; i < w.length; i++) out[i] = acc += w[i] / s;
  out[w.length - 1] = 1;
  return out;
}

/**
 * Walker's alias method for a distribution p (summing to 1): draw j = ⌊x n⌋ for x ~ U(0, 1), keep j if
 * the fraction x n − j < prob[j], else take alias[j].
 */
export function aliasTable(p: ArrayLike<number>, prob: Float32Array, alias: Int32Array): void {
  const n = p.length;
  const scaled = Float64Array.from(p, (x) => x * n);
  const small: number[] = [];
  const large: number[] = [];
  for (let i = 0; i < n; i++) (scaled[i] < 1 ? small : large).push(i);
  while (small.length && large.length) {
    const s = small.pop()!;
    const l = large[large.length - 1];
    prob[s] = scaled[s];
    alias[s] = l;
    scaled[l] -= 1 - scaled[s];
    if (scaled[l] < 1) small.push(large.pop()!);
  }
  for (const i of [...small, ...large]) {
    prob[i] = 1;
    alias[i] = i;
  }
}

/** Index of the first cdf entry > u (binary search). */
export function drawCdf(cdf: Float64Array, u: number, offset = 0, length = cdf.length - offset): number {
  let lo = 0;
  let hi = length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cdf[offset + mid] > u) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

let defaultWorldCache: World | undefined;

/** The world of the default config (built once per process). */
export function defaultWorld(): World {
  return (defaultWorldCache ??= createWorld({}));
}
