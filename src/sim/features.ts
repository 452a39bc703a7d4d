/**
 * The state a serving stack would log (README §1.5): observable profile features, aggregates of the
 * session's recent history, and position/context. Latent traits (type, satisfaction, fatigue) are
 * not in it; the profile and the history are noisy views of them.
 */
import type { UserType } from './config.ts';
import type { Rng } from './rng.ts';

export const PROFILE_NAMES = [
  'u_activity', // log activity + noise
  'u_tenure', // account age: pure noise, a feature that carries nothing
  'u_hist_session_len', // historical session length (patience), noisy
  'u_hist_play_ratio', // historical mean play ratio, noisy
  'u_hist_like', // historical like propensity, noisy
  'u_hist_share',
  'u_hist_comment',
  'u_hist_follow',
  'u_pref_duration', // preference for long videos (−ν), noisy
  'u_interest_entropy', // how spread the user's interests are (0 focused … 1 uniform)
] as const;

export const HISTORY_NAMES = [
  'h_play_ratio_ema', // EMA (0.7) of play ratio over the session's views
  'h_play_time_ema', // EMA of log1p(play time s) / 4
  'h_skip_ema',
  'h_interact_ema', // EMA of "any interaction"
  'h_finish_ema',
  'h_duration_ema', // EMA of log(d / d_ref) of the shown videos
  'h_topic_repeat', // recent exposure R[t] of the last shown topic before it was shown
  'h_pred_gap_ema', // EMA of (predicted play_time task − realised) of the shown item: a clickbait signal
  'h_last_skip',
  'h_last_play_ratio',
] as const;

export const CONTEXT_NAMES = [
  'c_step', // min(step, 100) / 20
  'c_log_step', // log1p(step) / 3
  'c_hour_sin', // time of day (UTC) of the request
  'c_hour_cos',
] as const;

/**
 * Decaying session averages of what the stack logs about the shown items (src/sim/itemSignals.ts),
 * in the order of ITEM_SIGNAL_NAMES. After the context so that indices 0–23 keep their meaning.
 */
export const ITEM_HISTORY_NAMES = [
  'h_item_completion_ema', // EMA of the shown items' historical completion rates
  'h_item_interaction_ema', // EMA of their historical positive-interaction rates
  'h_item_quality_ema', // EMA of their content-quality classifier scores
  'h_item_clickbait_ema', // EMA of their clickbait classifier scores
] as const;

export const STATE_NAMES: readonly string[] = [...PROFILE_NAMES, ...HISTORY_NAMES, ...CONTEXT_NAMES, ...ITEM_HISTORY_NAMES];
export const STATE_DIM = STATE_NAMES.length;
export const PROFILE_DIM = PROFILE_NAMES.length;
export const HISTORY_OFFSET = PROFILE_DIM;
export const CONTEXT_OFFSET = PROFILE_DIM + HISTORY_NAMES.length;
export const ITEM_HISTORY_OFFSET = CONTEXT_OFFSET + CONTEXT_NAMES.length;

/** EMA weight of the history features: h ← ρ h + (1 − ρ) x. */
export const HISTORY_EMA = 0.7;

/**
 * EMA weight of the item-signal averages (ITEM_HISTORY_NAMES): a longer memory than the responses'
 * averages out more of the classifiers' per-item noise (measured: README §1.5).
 */
export const ITEM_HISTORY_EMA = 0.8;

/** The history part of the state at the start of a session. */
export const HISTORY_INIT: readonly number[] = [0.5, Math.log1p(10) / 4, 0.3, 0.05, 0.2, 0, 0, 0, 0, 0.5];

export interface ProfileInputs {
  type: UserType;
  skipBias: number;
  playBias: number;
  interactBias: ArrayLike<number>;
  leaveBias: number;
  activity: number;
  interestEntropy: number;
}

const INTERACT_CENTER = [-3, -5, -4.5, -5.5];

/** Writes the PROFILE_DIM observable features of a user: noisy, roughly unit-scale views of the latent traits. */
export function profileFeatures(p: ProfileInputs, rng: Rng, out: Float32Array): void {
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  out[0] = Math.log(p.activity) + 0.3 * rng.normal();
  out[1] = rng.uniform();
  out[2] = (-p.leaveBias - 3.2) / 0.5 + 0.5 * rng.normal();
  out[3] = (1 - sig(p.skipBias)) * (0.1 + 0.9 * sig(p.playBias)) - 0.15 * p.type.durationSens + 0.05 * rng.normal();
  for (let j = 0; j < 4; j++) out[4 + j] = (p.interactBias[j] - INTERACT_CENTER[j]) / 1.5 + 0.4 * rng.normal();
  out[8] = -p.type.durationSens + 0.4 * rng.normal();
  out[9] = p.interestEntropy + 0.05 * rng.normal();
}
