/**
 * The true response model (README §1.3): the logits of a user's response to an item. A pure function
 * of the world and the session's dynamic shift δ; the engine samples feedback from it (and takes
 * expectations of it for the one-step model), the candidate sets predict its closed forms.
 */
import type { World } from './world.ts';

/** finish ⇔ play ratio ≥ 0.95 ⇔ X ≥ 17/18, with ratio = 0.1 + 0.9 X */
export const LOG_FINISH = Math.log(0.85 / 0.9);
/** a skip watches U(0.02, 0.1) of the video */
export const SKIP_RATIO_MEAN = 0.06;

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/**
 * The response logits of user u (type k) to `item` under the dynamic shift δ = κ_S S − κ_F F − κ_R R[t]
 * (README §1.6; δ = 0 at a neutral state). Writes [z_skip, μ, z_like, z_share, z_comment, z_follow].
 */
export function responseLogits(world: World, u: number, k: number, item: number, delta: number, out: Float64Array): void {
  const wc = world.config.world;
  const T = world.nTopics;
  const A = wc.interestScale * world.userInterest[u * T + world.itemTopic[item]] + wc.qualityEffect * world.itemQuality[item];
  const ell = world.itemLogDur[item];
  const c = world.itemClickbait[item];
  const lure = world.typeLure[k];
  out[0] = world.userSkipBias[u] - A - delta + world.typeSkipDurationSens[k] * ell - 0.5 * lure * c;
  out[1] = world.userPlayBias[u] + 0.6 * A + delta - world.typeDurationSens[k] * ell + lure * c;
  const Ai = 0.6 * A + 0.5 * delta - 1.5 * c;
  for (let j = 0; j < 4; j++) out[2 + j] = world.userInteractBias[u * 4 + j] + Ai + world.itemTraits[item * 4 + j];
}
