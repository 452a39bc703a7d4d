/**
 * The model's view of the data (issue 4 §1): states standardised with the train split's mean/std,
 * actions mapped from the pre-defined action interval (config actionInterval; the data's [min, max]
 * before issue 17) to [−1, 1]. Kept with every checkpoint and policy, so
 * that the deployed policy reads logged-unit states and returns logged-unit actions.
 */
export interface Normalization {
  stateMean: number[];
  stateStd: number[];
  actionMin: number[];
  actionMax: number[];
}

/** Per-dimension statistics as the trajectory metadata carries them. */
export interface DimStats {
  mean: number[];
  std: number[];
  min: number[];
  max: number[];
}

/** A std below this (a constant feature) is treated as 1: the feature is only centred. */
const MIN_STD = 1e-6;

/**
 * The model's normalisation. The action box is the pre-defined interval of the config field
 * `actionInterval` (README §3.5): 'data' = the statistics' [min, max] (the default before issue 17),
 * {sd: k} = mean ± k·sd per coordinate, {min, max} = given. A coordinate whose box would be empty (sd 0)
 * falls back to [min, max] (a constant coordinate then maps to 0).
 */
export function normalizationFromStats(state: DimStats, action: DimStats, interval: ActionIntervalSpec = 'data'): Normalization {
  const box = actionBox(action, interval);
  return {
    stateMean: [...state.mean],
    stateStd: state.std.map((s) => (Number.isFinite(s) && s > MIN_STD ? s : 1)),
    actionMin: box.min,
    actionMax: box.max,
  };
}

/** The config field `actionInterval` (src/rl/config.ts). */
export type ActionIntervalSpec = 'data' | { sd: number } | { min: number[]; max: number[] };

export function actionBox(action: DimStats, interval: ActionIntervalSpec): { min: number[]; max: number[] } {
  const A = action.min.length;
  if (interval === 'data') return { min: [...action.min], max: [...action.max] };
  if ('sd' in interval) {
    const k = interval.sd;
    const ok = (j: number) => Number.isFinite(action.std[j]) && action.std[j] > MIN_STD;
    return {
      min: action.mean.map((m, j) => (ok(j) ? m - k * action.std[j] : action.min[j])),
      max: action.mean.map((m, j) => (ok(j) ? m + k * action.std[j] : action.max[j])),
    };
  }
  if (interval.min.length !== A || interval.max.length !== A) {
    throw new RangeError(`actionInterval: ${interval.min.length}/${interval.max.length} bounds for ${A} action dimensions`);
  }
  return { min: [...interval.min], max: [...interval.max] };
}

/**
 * How many rows have at least one logged α outside the box, and the share of values outside per
 * coordinate (those are truncated to the box for training, as the paper does).
 */
export function outsideBox(a: Float32Array, n: number, norm: Normalization): { rows: number; share: number[] } {
  const A = norm.actionMin.length;
  const per = new Array<number>(A).fill(0);
  let rows = 0;
  for (let i = 0; i < n; i++) {
    let out = false;
    for (let j = 0; j < A; j++) {
      const v = a[i * A + j];
      if (v < norm.actionMin[j] || v > norm.actionMax[j]) {
        per[j] += 1;
        out = true;
      }
    }
    if (out) rows += 1;
  }
  return { rows, share: per.map((c) => c / Math.max(n, 1)) };
}

/** Statistics of a flat [n × dim] array (for when no metadata comes with the data). */
export function dimStats(x: Float32Array, n: number, dim: number): DimStats {
  const mean = new Array<number>(dim).fill(0);
  const sq = new Array<number>(dim).fill(0);
  const min = new Array<number>(dim).fill(Infinity);
  const max = new Array<number>(dim).fill(-Infinity);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) {
      const v = x[i * dim + j];
      mean[j] += v;
      sq[j] += v * v;
      if (v < min[j]) min[j] = v;
      if (v > max[j]) max[j] = v;
    }
  }
  for (let j = 0; j < dim; j++) {
    mean[j] /= Math.max(n, 1);
    sq[j] = Math.sqrt(Math.max(sq[j] / Math.max(n, 1) - mean[j] * mean[j], 0));
  }
  return { mean, std: sq, min, max };
}

export function normalizeStates(x: Float32Array, norm: Normalization): Float32Array {
  return normalizeStatesInto(x, norm, new Float32Array(x.length), 0);
}

/** normalizeStates written into out[at …] (no intermediate copy); returns out. */
export function normalizeStatesInto(x: Float32Array, norm: Normalization, out: Float32Array, at: number): Float32Array {
  const d = norm.stateMean.length;
  for (let i = 0; i < x.length; i++) out[at + i] = (x[i] - norm.stateMean[i % d]) / norm.stateStd[i % d];
  return out;
}

/**
 * a ↦ 2·(a − min)/(max − min) − 1; a dimension with max = min maps to 0. With `truncate`, values
 * outside the box are clipped to [−1, 1] (the paper truncates logged actions to its interval).
 */
export function normalizeActions(a: Float32Array, norm: Normalization, truncate = false): Float32Array {
  const d = norm.actionMin.length;
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const [lo, hi] = [norm.actionMin[i % d], norm.actionMax[i % d]];
    const u = hi > lo ? (2 * (a[i] - lo)) / (hi - lo) - 1 : 0;
    out[i] = truncate ? Math.min(1, Math.max(-1, u)) : u;
  }
  return out;
}

/** The inverse of normalizeActions (a constant dimension returns its constant). */
export function denormalizeActions(u: Float32Array, norm: Normalization): Float32Array {
  const d = norm.actionMin.length;
  const out = new Float32Array(u.length);
  for (let i = 0; i < u.length; i++) {
    const [lo, hi] = [norm.actionMin[i % d], norm.actionMax[i % d]];
    out[i] = lo + ((u[i] + 1) / 2) * (hi - lo);
  }
  return out;
}
