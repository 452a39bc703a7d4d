/**
 * Statistics of the generative model's samples against the logged action distribution (src/rl/README.md
 * §3.4), shared by test/rl/generative.test.ts and test/rl/vae.study.ts.
 *
 * The simulator's logs are mixed multi-exploration around a constant production α (src/sim/policies.ts):
 * per session an arm, random exploration α ~ N(α_prod, 0.3² I) or action noise α_prod + N(0, 0.1² I),
 * drawn afresh per request. Per state the logged α is that mixture: per coordinate sd √(½·0.3² + ½·0.1²)
 * ≈ 0.224, kurtosis (½·3·0.3⁴ + ½·3·0.1⁴)/0.05² = 4.92 (a Gaussian: 3), and a share
 * ½·P(|N(0, 0.3²)| < 0.1) + ½·P(|N(0, 0.1²)| < 0.1) = 0.472 within ±0.1 of α_prod (a Gaussian of the
 * same sd: 0.345).
 */

/** What the simulator knows exactly about the per-state logged α (default behavior config). */
export const LOGGED = { sd: Math.sqrt(0.5 * 0.09 + 0.5 * 0.01), kurtosis: (1.5 * 0.3 ** 4 + 1.5 * 0.1 ** 4) / 0.05 ** 2, near: 0.472 } as const;

/** Φ (Abramowitz–Stegun 7.1.26 erf, |error| < 1.5e-7). */
export function normalCdf(x: number): number {
  const t = 1 / (1 + 0.3275911 * (Math.abs(x) / Math.SQRT2));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-(x * x) / 2);
  return x >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}

/** CDF of α − α_prod per coordinate under the logged mixture: ½Φ(x/0.3) + ½Φ(x/0.1). */
export const mixtureCdf = (x: number) => 0.5 * normalCdf(x / 0.3) + 0.5 * normalCdf(x / 0.1);

/** Kolmogorov–Smirnov distance between the sample `x` (sorted in place) and a CDF. */
export function ksDistance(x: Float64Array, cdf: (v: number) => number): number {
  x.sort();
  let d = 0;
  for (let i = 0; i < x.length; i++) {
    const F = cdf(x[i]);
    d = Math.max(d, Math.abs(F - i / x.length), Math.abs(F - (i + 1) / x.length));
  }
  return d;
}

export interface SpreadStats {
  /** per-state sd per coordinate, averaged over states and coordinates (α units) */
  sd: number;
  /** the same per coordinate */
  sdPerDim: number[];
  /** per-state kurtosis per coordinate, averaged */
  kurtosis: number;
  /** share of samples within ±0.1 of `center` in each coordinate, averaged */
  near: number;
  /** sd across states of the per-state mean, averaged over coordinates (how much the model uses s) */
  sdOfMeans: number;
  /** per-state mean − center, averaged over states, per coordinate */
  bias: number[];
  /** KS distance of all samples − center to the logged mixture (mixtureCdf), per coordinate, averaged */
  ks: number;
}

/** samples: [count × m × A] α (logged units); center: the production α. */
export function spreadStats(samples: Float32Array, count: number, m: number, A: number, center: ArrayLike<number>): SpreadStats {
  const sdPerDim = new Array<number>(A).fill(0);
  const bias = new Array<number>(A).fill(0);
  const means: number[][] = Array.from({ length: A }, () => []);
  let kurt = 0;
  let near = 0;
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < A; j++) {
      let mean = 0;
      for (let k = 0; k < m; k++) mean += samples[(i * m + k) * A + j] / m;
      let m2 = 0;
      let m4 = 0;
      for (let k = 0; k < m; k++) {
        const v = samples[(i * m + k) * A + j];
        const d = v - mean;
        m2 += (d * d) / m;
        m4 += (d * d * d * d) / m;
        if (Math.abs(v - center[j]) < 0.1) near += 1;
      }
      sdPerDim[j] += Math.sqrt(m2) / count;
      kurt += m2 > 0 ? m4 / (m2 * m2) : 0;
      bias[j] += (mean - center[j]) / count;
      means[j].push(mean);
    }
  }
  const sdOf = (x: number[]) => {
    const mu = x.reduce((a, b) => a + b, 0) / x.length;
    return Math.sqrt(x.reduce((a, b) => a + (b - mu) ** 2, 0) / x.length);
  };
  let ks = 0;
  for (let j = 0; j < A; j++) {
    const x = new Float64Array(count * m);
    for (let r = 0; r < count * m; r++) x[r] = samples[r * A + j] - center[j];
    ks += ksDistance(x, mixtureCdf) / A;
  }
  return {
    ks,
    sd: sdPerDim.reduce((a, b) => a + b, 0) / A,
    sdPerDim,
    kurtosis: kurt / (count * A),
    near: near / (count * m * A),
    sdOfMeans: means.reduce((a, x) => a + sdOf(x), 0) / A,
    bias,
  };
}

/** The same statistics of the logged α itself (one sample per row; all rows as one "state"). */
export function loggedStats(action: Float32Array, n: number, A: number, center: ArrayLike<number>): SpreadStats {
  return spreadStats(action, 1, n, A, center);
}

/**
 * BCQ's n candidates per state (Eq. 4; samples [count × n × A]): the per-state sd across them, averaged
 * (α units), and the smallest distance (max over coordinates) between two candidates of one state.
 */
export function candidateStats(samples: Float32Array, count: number, n: number, A: number): { sd: number; minGap: number } {
  const s = spreadStats(samples, count, n, A, new Array<number>(A).fill(0));
  let minGap = Infinity;
  for (let i = 0; i < count; i++) {
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        let g = 0;
        for (let j = 0; j < A; j++) g = Math.max(g, Math.abs(samples[(i * n + p) * A + j] - samples[(i * n + q) * A + j]));
        minGap = Math.min(minGap, g);
      }
    }
  }
  return { sd: s.sd, minGap };
}
