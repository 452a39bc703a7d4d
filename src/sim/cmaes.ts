/**
 * CMA-ES, the covariance matrix adaptation evolution strategy (Hansen, "The CMA Evolution Strategy: A
 * Tutorial", arXiv:1604.00772, 2016), as an ask/tell black-box optimiser: it *maximises* f over R^n.
 * Used to tune the constant fusion weights the product must beat (the users' Bayesian-optimised
 * production α) and the simulator's reference policies on true discounted return.
 *
 * Written here rather than taken from npm: the registry this project installs from has no maintained
 * CMA-ES or Bayesian-optimisation package for JavaScript (searched: cmaes, cma-es, cmaes-js,
 * bayesian-optimization, nelder-mead — none exist; `fmin` 0.0.4 and `optimization-js` 1.5 are
 * unmaintained Nelder-Mead/BFGS codes without noise handling). The update equations below are the
 * tutorial's (its Table 1 defaults, equation numbers in the comments); eigen-decomposition by cyclic
 * Jacobi rotations, exact enough for the n ≤ a few hundred this is used at.
 */
import { Rng } from './rng.ts';

export interface CmaEsOptions {
  /** the initial mean m⁽⁰⁾ */
  mean: ArrayLike<number>;
  /** the initial step size σ⁽⁰⁾ (about a quarter of the search range per coordinate) */
  sigma: number;
  /** λ, the population per generation (default 4 + ⌊3 ln n⌋) */
  popsize?: number;
  /** seed of the sampling (the optimiser's own stream) */
  seed?: number;
}

export interface CmaEsState {
  generation: number;
  mean: number[];
  sigma: number;
  /** the best point told so far and its value */
  best: { x: number[]; f: number } | null;
  evaluations: number;
}

export class CmaEs {
  readonly n: number;
  readonly lambda: number;
  readonly mu: number;
  private readonly weights: Float64Array;
  private readonly muEff: number;
  private readonly cSigma: number;
  private readonly dSigma: number;
  private readonly cc: number;
  private readonly c1: number;
  private readonly cMu: number;
  private readonly chiN: number;
  private readonly rng: Rng;

  private m: Float64Array;
  private sigma: number;
  private readonly pSigma: Float64Array;
  private readonly pc: Float64Array;
  /** C, row-major n × n */
  private readonly C: Float64Array;
  /** eigenvectors of C (columns of B, row-major) and √eigenvalues (D) */
  private readonly B: Float64Array;
  private readonly D: Float64Array;
  private generation = 0;
  private evaluations = 0;
  private best: { x: number[]; f: number } | null = null;
  /** the z and y of the last ask (y = B D z), by candidate */
  private asked: { x: Float64Array; y: Float64Array }[] = [];

  constructor(o: CmaEsOptions) {
    const n = (this.n = o.mean.length);
    if (n < 1) throw new RangeError('CmaEs: mean must have at least one coordinate');
    if (!(o.sigma > 0) || !Number.isFinite(o.sigma)) throw new RangeError(`CmaEs: sigma must be a positive number, got ${o.sigma}`);
    const lambda = (this.lambda = o.popsize ?? 4 + Math.floor(3 * Math.log(n)));
    if (!Number.isInteger(lambda) || lambda < 2) throw new RangeError(`CmaEs: popsize must be an integer ≥ 2, got ${lambda}`);
    const mu = (this.mu = Math.floor(lambda / 2));
    // Recombination weights (Eq. 49 for the positive ones; the negative ones are not used).
    const w = new Float64Array(mu);
    for (let i = 0; i < mu; i++) w[i] = Math.log((lambda + 1) / 2) - Math.log(i + 1);
    const sw = w.reduce((a, b) => a + b, 0);
    for (let i = 0; i < mu; i++) w[i] /= sw;
    this.weights = w;
    this.muEff = 1 / w.reduce((a, b) => a + b * b, 0);
    const me = this.muEff;
    // Table 1 defaults: step-size control (Eq. 55) and covariance adaptation (Eqs. 56–58).
    this.cSigma = (me + 2) / (n + me + 5);
    this.dSigma = 1 + 2 * Math.max(0, Math.sqrt((me - 1) / (n + 1)) - 1) + this.cSigma;
    this.cc = (4 + me / n) / (n + 4 + (2 * me) / n);
    this.c1 = 2 / ((n + 1.3) ** 2 + me);
    this.cMu = Math.min(1 - this.c1, (2 * (me - 2 + 1 / me)) / ((n + 2) ** 2 + me));
    this.chiN = Math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n)); // E‖N(0, I)‖
    this.rng = new Rng(o.seed ?? 0);
    this.m = Float64Array.from(o.mean);
    this.sigma = o.sigma;
    this.pSigma = new Float64Array(n);
    this.pc = new Float64Array(n);
    this.C = new Float64Array(n * n);
    this.B = new Float64Array(n * n);
    this.D = new Float64Array(n).fill(1);
    for (let i = 0; i < n; i++) this.C[i * n + i] = this.B[i * n + i] = 1;
  }

  /** λ new candidates x_k = m + σ B D z_k, z_k ~ N(0, I) (Eqs. 38–40). */
  ask(): number[][] {
    const n = this.n;
    this.asked = [];
    const out: number[][] = [];
    for (let k = 0; k < this.lambda; k++) {
      const z = new Float64Array(n);
      for (let i = 0; i < n; i++) z[i] = this.rng.normal();
      const y = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < n; j++) s += this.B[i * n + j] * this.D[j] * z[j];
        y[i] = s;
      }
      const x = new Float64Array(n);
      for (let i = 0; i < n; i++) x[i] = this.m[i] + this.sigma * y[i];
      this.asked.push({ x, y });
      out.push(Array.from(x));
    }
    return out;
  }

  /** The values f(x_k) of the last ask's candidates, in the same order; moves the distribution. */
  tell(values: ArrayLike<number>): void {
    const n = this.n;
    if (values.length !== this.asked.length) throw new RangeError(`CmaEs.tell: ${values.length} values for ${this.asked.length} candidates`);
    for (let k = 0; k < values.length; k++) if (Number.isNaN(values[k])) throw new RangeError(`CmaEs.tell: value ${k} is NaN`);
    this.evaluations += values.length;
    const order = Array.from(values, (_, k) => k).sort((a, b) => values[b] - values[a]); // maximise
    if (!this.best || values[order[0]] > this.best.f) this.best = { x: Array.from(this.asked[order[0]].x), f: values[order[0]] };
    // Selection and recombination (Eqs. 41–42): y_w = Σ w_i y_i:λ, m ← m + σ y_w.
    const yw = new Float64Array(n);
    for (let i = 0; i < this.mu; i++) {
      const y = this.asked[order[i]].y;
      for (let j = 0; j < n; j++) yw[j] += this.weights[i] * y[j];
    }
    for (let j = 0; j < n; j++) this.m[j] += this.sigma * yw[j];
    // Step-size control (Eqs. 43–44): p_σ ← (1 − c_σ) p_σ + √(c_σ(2 − c_σ)μ_eff) C^−½ y_w.
    const cInvHalfYw = this.invSqrtC(yw);
    const a = Math.sqrt(this.cSigma * (2 - this.cSigma) * this.muEff);
    for (let j = 0; j < n; j++) this.pSigma[j] = (1 - this.cSigma) * this.pSigma[j] + a * cInvHalfYw[j];
    const psNorm = Math.hypot(...this.pSigma);
    this.generation++;
    const hSigma = psNorm / Math.sqrt(1 - (1 - this.cSigma) ** (2 * this.generation)) < (1.4 + 2 / (n + 1)) * this.chiN ? 1 : 0;
    // Covariance matrix adaptation (Eqs. 45–47): rank-one update from p_c, rank-μ update from the y_i:λ.
    const b = Math.sqrt(this.cc * (2 - this.cc) * this.muEff);
    for (let j = 0; j < n; j++) this.pc[j] = (1 - this.cc) * this.pc[j] + hSigma * b * yw[j];
    const deltaH = (1 - hSigma) * this.cc * (2 - this.cc);
    const C = this.C;
    for (let r = 0; r < n; r++) {
      for (let c = 0; c <= r; c++) {
        let rankMu = 0;
        for (let i = 0; i < this.mu; i++) {
          const y = this.asked[order[i]].y;
          rankMu += this.weights[i] * y[r] * y[c];
        }
        const v = (1 + this.c1 * deltaH - this.c1 - this.cMu) * C[r * n + c] + this.c1 * this.pc[r] * this.pc[c] + this.cMu * rankMu;
        C[r * n + c] = C[c * n + r] = v;
      }
    }
    this.sigma *= Math.exp((this.cSigma / this.dSigma) * (psNorm / this.chiN - 1)); // Eq. 44
    this.decompose();
  }

  state(): CmaEsState {
    return { generation: this.generation, mean: Array.from(this.m), sigma: this.sigma, best: this.best && { x: [...this.best.x], f: this.best.f }, evaluations: this.evaluations };
  }

  /** C^−½ v = B D⁻¹ Bᵀ v. */
  private invSqrtC(v: Float64Array): Float64Array {
    const n = this.n;
    const t = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += this.B[i * n + j] * v[i];
      t[j] = s / this.D[j];
    }
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += this.B[i * n + j] * t[j];
      out[i] = s;
    }
    return out;
  }

  /** B, D from C = B D² Bᵀ (symmetric eigen-decomposition; tiny negative eigenvalues from rounding clamp to 1e-20). */
  private decompose(): void {
    const { vectors, values } = symmetricEigen(this.C, this.n);
    this.B.set(vectors);
    for (let i = 0; i < this.n; i++) this.D[i] = Math.sqrt(Math.max(values[i], 1e-20));
  }
}

/** Eigenvalues and eigenvectors (columns, row-major) of a symmetric n × n matrix by cyclic Jacobi rotations. */
export function symmetricEigen(matrix: ArrayLike<number>, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i];
  return { values, vectors: v };
}
