/**
 * How the critic targets are built from the logged rows (README §3, §7): the algorithm config's target
 * fields (γ, nStep, rewardScale with its 'auto' value, per-response critics), the n-step windows of the
 * sessions, and the per-response target columns over the same windows.
 */
import type { TransitionBatch } from '../data/trajectoryTypes.ts';
import { InputError } from '../errors/index.ts';
import type { AlgoConfig, Response } from './config.ts';

/** How the critic targets are built from the logged rows (the algorithm config's fields). */
export interface TargetOptions {
  gamma: number;
  /** rows per target (1 = the paper's one-step target) */
  nStep: number;
  /** rewards × rewardScale */
  rewardScale: number;
  /** per-response critics (config `responses`): each feedback column's weight and γ; null/absent = one critic on r */
  responses?: Response[] | null;
}

/** The paper's one-step target, unscaled (prepareData's default). */
export const ONE_STEP: TargetOptions = { gamma: 0.95, nStep: 1, rewardScale: 1 };

/**
 * The target fields of an algorithm config (BC has none: it never builds a target). rewardScale 'auto'
 * resolves to 1 / mean |r| over `reward` (the train rows), or 1 where that is 0 or not finite. With
 * `responses`, the reward the scale is computed on is Σ_i w_i·v_i over `feedback` (the responses'
 * weights, which may differ from the ingest spec's), so that κ·Σ_i Q_i reads as the single critic's Q.
 */
export function targetOptions(cfg: AlgoConfig, reward?: ArrayLike<number>, feedback?: Record<string, ArrayLike<number>>): TargetOptions {
  const c = cfg as { gamma?: number; nStep?: number; rewardScale?: number | 'auto'; responses?: Response[] | null };
  const responses = c.responses ?? null;
  let rewardScale = c.rewardScale ?? 1;
  if (rewardScale === 'auto') {
    if (responses) {
      if (!feedback) throw new RangeError("rewardScale 'auto' with responses needs the feedback columns it is computed from");
      rewardScale = autoRewardScale(weightedReward(responses, feedback));
    } else {
      if (!reward) throw new RangeError("rewardScale 'auto' needs the rewards it is computed from");
      rewardScale = autoRewardScale(reward);
    }
  }
  const out: TargetOptions = { gamma: c.gamma ?? ONE_STEP.gamma, nStep: c.nStep ?? 1, rewardScale };
  if (responses) out.responses = responses;
  return out;
}

/** Σ_i w_i·v_i per row over the responses' feedback columns. */
export function weightedReward(responses: Response[], feedback: Record<string, ArrayLike<number>>): Float64Array {
  const cols = responses.map((r) => feedbackColumn(feedback, r.name));
  const out = new Float64Array(cols[0].length);
  responses.forEach((r, i) => {
    for (let t = 0; t < out.length; t++) out[t] += r.weight * cols[i][t];
  });
  return out;
}

/** The named feedback column of the batch; an input error naming the columns there are when it has none of that name. */
export function feedbackColumn(feedback: Record<string, ArrayLike<number>>, name: string): ArrayLike<number> {
  const col = Object.hasOwn(feedback, name) ? feedback[name] : undefined;
  if (!col) {
    const have = Object.keys(feedback);
    throw new InputError(
      `config: responses: '${name}' is not a feedback column of the training data (${have.length ? `it has ${have.join(', ')}` : 'it has none'}; the columns are those of the ingest reward spec)`,
      { field: 'responses' },
    );
  }
  return col;
}

/** 1 / mean |r| (rewards in units of the mean logged reward per step); 1 for all-zero or non-finite rewards. */
export function autoRewardScale(reward: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < reward.length; i++) s += Math.abs(reward[i]);
  const m = s / Math.max(reward.length, 1);
  return m > 0 && Number.isFinite(m) ? 1 / m : 1;
}

/**
 * Row t's n-step window (README §3): its target sums rows t … t + len − 1; then it bootstraps (boot = 1,
 * weight γ^len) or not (the session ended inside, or row t is itself truncated). s′ is the state of row
 * nextRow (nextIsState = 1: a truncated row's own, known state, where the window reached a cut) or that
 * row's logged next state. m ≤ n stops early at the session's end, at a truncated row t + m or where the
 * session's rows stop (a gap in the steps ends the window). nStep = 1 gives the one-step target's rows.
 */
export function nStepWindows(b: TransitionBatch, nStep: number) {
  const len = new Int32Array(b.n);
  const boot = new Uint8Array(b.n);
  const nextRow = new Int32Array(b.n);
  const nextIsState = new Uint8Array(b.n);
  const continues = (j: number) => j + 1 < b.n && b.sessionIndex[j + 1] === b.sessionIndex[j] && b.step[j + 1] === b.step[j] + 1;
  for (let t = 0; t < b.n; t++) {
    let j = t;
    for (;;) {
      if (b.truncated[j] && j > t) {
        // the window reaches a cut: bootstrap from the cut row's own (known) state after j − t rows
        [len[t], boot[t], nextRow[t], nextIsState[t]] = [j - t, 1, j, 1];
        break;
      }
      if (b.done[j] || b.truncated[j]) {
        // session end (no bootstrap), or row t itself truncated (mask 0: its target is never used)
        [len[t], boot[t], nextRow[t]] = [j - t + 1, 0, j];
        break;
      }
      if (j - t + 1 === nStep || !continues(j)) {
        [len[t], boot[t], nextRow[t]] = [j - t + 1, 1, j];
        break;
      }
      j++;
    }
  }
  return { len, boot, nextRow, nextIsState };
}

/** The per-response target columns over the same windows: r_i = κ·w_i·Σ_{k<len} γ_i^k v_{i,t+k}, discount_i = boot·γ_i^len. */
export function responseColumns(b: TransitionBatch, win: ReturnType<typeof nStepWindows>, responses: Response[], rewardScale: number) {
  const R = responses.length;
  const r = new Float32Array(b.n * R);
  const discount = new Float32Array(b.n * R);
  responses.forEach(({ name, weight, gamma }, i) => {
    const v = feedbackColumn(b.feedback, name);
    const scale = rewardScale * weight;
    for (let t = 0; t < b.n; t++) {
      let g = 0;
      let w = 1; // γ_i^k (γ_i = 0: the immediate response only)
      for (let k = 0; k < win.len[t]; k++) {
        g += w * v[t + k];
        w *= gamma;
      }
      r[t * R + i] = g * scale;
      discount[t * R + i] = win.boot[t] ? w : 0;
    }
  });
  return { R, r, discount };
}
