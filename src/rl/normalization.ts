/**
 * The model's view of the data (issue 4 §1): states standardised with the train split's mean/std,
 * actions mapped from the data's [min, max] box to [−1, 1]. Kept with every checkpoint and policy, so
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

export function normalizationFromStats(state: DimStats, action: DimStats): Normalization {
  return {
    stateMean: [...state.mean],
    stateStd: state.std.map((s) => (Number.isFinite(s) && s > MIN_STD ? s : 1)),
    actionMin: [...action.min],
    actionMax: [...action.max],
  };
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
  const d = norm.stateMean.length;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = (x[i] - norm.stateMean[i % d]) / norm.stateStd[i % d];
  return out;
}

/** a ↦ 2·(a − min)/(max − min) − 1; a dimension with max = min maps to 0. */
export function normalizeActions(a: Float32Array, norm: Normalization): Float32Array {
  const d = norm.actionMin.length;
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const [lo, hi] = [norm.actionMin[i % d], norm.actionMax[i % d]];
    out[i] = hi > lo ? (2 * (a[i] - lo)) / (hi - lo) - 1 : 0;
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
