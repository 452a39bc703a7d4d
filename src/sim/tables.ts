/**
 * Table-interpolated σ, exp and log for the ranking models' predictions (README §1.4), 4–5× faster
 * than Math.exp / Math.log in V8; the float32 tables (32 KB each) stay in cache. Absolute errors:
 * σ < 1e-6, exp < 1e-5, log < 1e-4, far below the predictions' simulated error. Sampled outcomes and
 * the one-step model use the exact functions.
 */

const SIG_N = 8192;
const SIG_MIN = -32;
const SIG_MAX = 32;
const SIG_SCALE = SIG_N / (SIG_MAX - SIG_MIN);
const SIG = new Float32Array(SIG_N + 2);
for (let i = 0; i <= SIG_N + 1; i++) SIG[i] = 1 / (1 + Math.exp(-(SIG_MIN + i / SIG_SCALE)));

/** σ(x) = 1 / (1 + e^−x) */
export function fastSigmoid(x: number): number {
  let f = (x - SIG_MIN) * SIG_SCALE;
  if (!(f > 0)) f = 0; // also NaN → σ(−32)
  else if (f > SIG_N) f = SIG_N;
  const i = f | 0;
  return SIG[i] + (SIG[i + 1] - SIG[i]) * (f - i);
}

const EXP_N = 8192;
const EXP_MIN = -40;
const EXP_SCALE = EXP_N / -EXP_MIN;
const EXPT = new Float32Array(EXP_N + 2);
for (let i = 0; i <= EXP_N + 1; i++) EXPT[i] = Math.exp(EXP_MIN + i / EXP_SCALE);

/** e^x for x ≤ 0 (−∞ → 0); Math.exp above 0. */
export function fastExpNeg(x: number): number {
  if (x > 0) return Math.exp(x);
  const f = (x - EXP_MIN) * EXP_SCALE;
  if (!(f >= 0)) return 0;
  const i = f | 0;
  return EXPT[i] + (EXPT[i + 1] - EXPT[i]) * (f - i);
}

const LOG_N = 8192;
const LOG_MAX = 2.2;
const LOG_MIN = 0.01;
const LOG_SCALE = LOG_N / LOG_MAX;
const LOGT = new Float32Array(LOG_N + 2);
for (let i = 0; i <= LOG_N + 1; i++) LOGT[i] = Math.log(Math.max(i / LOG_SCALE, Number.MIN_VALUE));

/** log x; interpolated on [0.01, 2.2], Math.log outside. */
export function fastLog(x: number): number {
  if (!(x >= LOG_MIN && x <= LOG_MAX)) return Math.log(x);
  const f = x * LOG_SCALE;
  const i = f | 0;
  return LOGT[i] + (LOGT[i + 1] - LOGT[i]) * (f - i);
}
