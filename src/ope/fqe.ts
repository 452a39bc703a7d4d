/**
 * BatchRL-MTF's Conservative-OPEstimator (Zhang et al., Algorithm 2): Fitted Q Evaluation of a fixed
 * policy π_e on logged transitions, with the CQL penalty of Eq. (9),
 *
 *   L(θ) = α·P_θ + ½·E_D[(Q_θ(s, a) − y)²],
 *   y    = r + γ·(1 − done)·clip(Q_θ′(s′, π_e(s′)), V_lo, V_hi)       (no gradient through y),
 *
 *   P_θ  = E_{s~D, a~π_e}[Q_θ(s, a)] − E_{(s,a)~D}[Q_θ(s, a)]                 (penalty 'linear': Eq. 9 as printed)
 *   P_θ  = E_{(s,a)~D}[τ·softplus((Q_θ(s, π_e(s)) − Q_θ(s, a))/τ)]           (penalty 'logsumexp', the default:
 *          CQL(H)'s τ·log Σ exp(Q/τ) − Q(s, a) (Kumar et al. 2020, Eq. 4) over the actions {a, π_e(s)})
 *
 * and the value of Eq. (10): V̂(π_e) = mean over initial states s₀ of clip(Q(s₀, π_e(s₀)), V_lo, V_hi)
 * (averaged over sampled actions for stochastic policies). The clip (cfg.clipValues; the paper has none)
 * is the range of any discounted return of the logged rewards, data.ts headBounds. src/ope/README.md
 * (deviation 6) has the measurements behind both departures from the printed estimator. Built from
 * the training machinery (src/rl: MLPs on the fused dense kernel, Adam, soft updates, the seeded RNG) so
 * that FQE and the critics it evaluates share one implementation of every layer.
 *
 * Heads: column 0 of Q is the value of r; with per-response values (TSCAC's multi-critic) column h is
 * the value of feedback column v_h, trained on the same minibatches with the same penalty. Each head
 * learns in units of its scale (mean |v| / (1 − γ)), so that one learning rate suits all of them.
 */
import * as tf from '@tensorflow/tfjs';
import type { FqeConfig } from './config.ts';
import type { OpeData } from './data.ts';
import type { PolicyActions } from './policies.ts';
import { Adam, cloneMlp, createMlp, disposeMlp, mlp, mlpVariables, Rng, softUpdate, type Mlp } from './rl.ts';

/** One minibatch, normalised. Q(s, a) and Q(s, π_e(s)) share one forward pass over 2m rows. */
export interface FqeMinibatch {
  /** [2m, S]: s twice */
  ss: tf.Tensor2D;
  /** [2m, A]: the logged a, then π_e(s) */
  aPi: tf.Tensor2D;
  /** [m, S] */
  s2: tf.Tensor2D;
  /** [m, A]: π_e(s′) */
  aNext: tf.Tensor2D;
  /** [m, H]: per-head reward, scaled */
  r: tf.Tensor2D;
  /** [m, 1] */
  notDone: tf.Tensor2D;
  /** [m, 1]: 0 on truncated rows (no TD target) */
  mask: tf.Tensor2D;
  /** [m, 1]: weight of each row's penalty term (fqe.penaltySupport; all 1 when off) */
  w: tf.Tensor2D;
}

/**
 * Eq. (9)'s regression target y = r + γ(1 − done)·Q′(s′, π_e(s′)), [m, H]. With `bounds` (per head,
 * scaled units) Q′ is first clipped to [lo_h, hi_h]: a value outside the feasible range of discounted
 * returns is extrapolation error, and bootstrapping from it compounds it over 1/(1 − γ) steps.
 */
export function computeFqeTarget(
  Qtarget: Mlp,
  mb: Pick<FqeMinibatch, 's2' | 'aNext' | 'r' | 'notDone'>,
  gamma: number,
  bounds?: readonly (readonly [number, number])[] | null,
): tf.Tensor2D {
  return tf.tidy(() => {
    const nextQ = clipHeads(mlp(Qtarget, [mb.s2, mb.aNext]), bounds);
    return tf.add(mb.r, tf.mul(gamma, tf.mul(mb.notDone, nextQ)));
  });
}

/** Each column h of q clipped to bounds[h] (no-op without bounds). */
export function clipHeads(q: tf.Tensor2D, bounds?: readonly (readonly [number, number])[] | null): tf.Tensor2D {
  if (!bounds) return q;
  const lo = tf.tensor2d(bounds.map((b) => b[0]), [1, bounds.length]);
  const hi = tf.tensor2d(bounds.map((b) => b[1]), [1, bounds.length]);
  return tf.minimum(tf.maximum(q, lo), hi);
}

/**
 * Eq. (9): α·P + ½·mean_masked (Q(s, a) − y)², summed over heads, with P = mean (Q(s, π_e(s)) − Q(s, a))
 * (linear) or mean τ·softplus((Q(s, π_e(s)) − Q(s, a))/τ) (logsumexp: CQL(H) over {a, π_e(s)}; its
 * gradient is ±σ(Δ/τ) instead of ±1, so it fades once π_e's action is valued a few τ below the logged
 * one). Truncated rows count in the penalty (their (s, a) are data) but not in the TD term.
 * With `mb.w` (fqe.penaltySupport) row i's penalty term is multiplied by w_i ∈ [0, 1] (still divided by m).
 */
export function computeFqeLoss(
  Q: Mlp,
  mb: Pick<FqeMinibatch, 'ss' | 'aPi' | 'mask'> & { w?: tf.Tensor2D | null },
  y: tf.Tensor2D,
  alpha: number,
  penalty: { form: 'linear' | 'logsumexp'; temperature: number } = { form: 'linear', temperature: 1 },
) {
  const [m, H] = y.shape;
  const q = mlp(Q, [mb.ss, mb.aPi]);
  const qData = tf.slice(q, [0, 0], [m, H]);
  const qPi = tf.slice(q, [m, 0], [m, H]);
  const rows = tf.maximum(tf.sum(mb.mask), 1);
  const td = tf.div(tf.mul(0.5, tf.sum(tf.mul(mb.mask, tf.squaredDifference(qData, y)))), rows) as tf.Scalar;
  const tau = penalty.temperature;
  const perRow = penalty.form === 'linear' ? tf.sub(qPi, qData) : tf.mul(tau, tf.softplus(tf.div(tf.sub(qPi, qData), tau)));
  const gap = tf.div(tf.sum(mb.w ? tf.mul(mb.w, perRow) : perRow), m) as tf.Scalar;
  const pen = tf.mul(alpha, gap) as tf.Scalar;
  return { loss: tf.add(td, pen) as tf.Scalar, td, penalty: pen, qData, qPi };
}

/** Rows and samples drawn uniformly (with replacement) from `pool`, as tensors. */
export function sampleFqeMinibatch(d: OpeData, acts: PolicyActions, pool: Int32Array, rng: Rng, m: number, weights?: Float32Array | null): FqeMinibatch {
  const { qStateDim: S, actionDim: A, n } = d;
  const H = d.heads.length;
  const ss = new Float32Array(2 * m * S);
  const aPi = new Float32Array(2 * m * A);
  const s2 = new Float32Array(m * S);
  const aNext = new Float32Array(m * A);
  const r = new Float32Array(m * H);
  const notDone = new Float32Array(m);
  const mask = new Float32Array(m);
  const w = new Float32Array(m).fill(1);
  const copy = (dst: Float32Array, at: number, src: Float32Array, from: number, len: number) => {
    for (let c = 0; c < len; c++) dst[at + c] = src[from + c];
  };
  for (let b = 0; b < m; b++) {
    const i = pool[rng.int(pool.length)];
    const k = acts.samples > 1 ? rng.int(acts.samples) : 0;
    copy(ss, b * S, d.qs, i * S, S);
    copy(ss, (m + b) * S, d.qs, i * S, S);
    copy(aPi, b * A, d.a, i * A, A);
    copy(aPi, (m + b) * A, acts.pi, (k * n + i) * A, A);
    copy(s2, b * S, d.qs2, i * S, S);
    copy(aNext, b * A, acts.pi2, (k * n + i) * A, A);
    copy(r, b * H, d.y, i * H, H);
    notDone[b] = d.notDone[i];
    mask[b] = d.mask[i];
    if (weights) w[b] = weights[k * n + i];
  }
  return {
    ss: tf.tensor2d(ss, [2 * m, S]),
    aPi: tf.tensor2d(aPi, [2 * m, A]),
    s2: tf.tensor2d(s2, [m, S]),
    aNext: tf.tensor2d(aNext, [m, A]),
    r: tf.tensor2d(r, [m, H]),
    notDone: tf.tensor2d(notDone, [m, 1]),
    mask: tf.tensor2d(mask, [m, 1]),
    w: tf.tensor2d(w, [m, 1]),
  };
}

function disposeMinibatch(mb: FqeMinibatch): void {
  tf.dispose([mb.ss, mb.aPi, mb.s2, mb.aNext, mb.r, mb.notDone, mb.mask, mb.w]);
}

export interface FqeCurves {
  step: number[];
  /** ½ TD² (scaled units, summed over heads), mean over the interval */
  tdLoss: number[];
  /** α·P of Eq. (9) (linear or logsumexp; scaled units, summed over heads), mean over the interval */
  penalty: number[];
  /** V̂ (head 0, reward units) of the current iterate on the initial states at that step */
  vHat: number[];
  /** ½ TD² (as tdLoss) of the current iterate on the held-out rows (FqeFitOptions.holdout); empty without */
  heldOutTd: number[];
}

export interface FqeFitOptions {
  cfg: FqeConfig;
  /** the initial-state rows of Eq. (10); repeats allowed (bootstrap resamples) */
  starts: Int32Array;
  /** rows minibatches are drawn from; repeats allowed (bootstrap); default every row */
  pool?: Int32Array;
  /** overrides cfg.iterations (bootstrap refits) */
  iterations?: number;
  /** seed of this fit's initialisation and minibatches (default cfg.seed) */
  seed?: number;
  /** also return Q(s, a) and Q(s, π_e(s)) of head 0 on every row (doubly robust) */
  tables?: boolean;
  /** skip the curves (bootstrap refits) */
  curves?: boolean;
  /** start from these weights (a previous fit's `weights`) instead of a fresh initialisation */
  init?: Float32Array[] | null;
  /** return the read-out weights (to warm-start bootstrap refits) */
  keepWeights?: boolean;
  onStep?: (step: number) => void;
  /** [samples × n] per-row weights of the penalty (ood.ts supportWeights; fqe.penaltySupport); default all 1 */
  penaltyWeights?: Float32Array | null;
  /** rows kept out of `pool` whose TD error is recorded in curves.heldOutTd (model selection / diagnostics) */
  holdout?: Int32Array | null;
}

export interface FqeFit {
  /** V̂ per head, in the head's own units (reward, then each feedback column) */
  value: number[];
  curves: FqeCurves;
  /** reward units, head 0, every row: Q(s_i, a_i) and mean_k Q(s_i, π_e,k(s_i)) */
  qData: Float64Array | null;
  qPi: Float64Array | null;
  /** the read-out network's weights, layer by layer W, b (with keepWeights) */
  weights: Float32Array[] | null;
  iterations: number;
  seconds: number;
}

/** Algorithm 2: K steps of conservative FQE, then Eq. (10). Leaves no tensor behind. */
export function fitFqe(d: OpeData, acts: PolicyActions, o: FqeFitOptions): FqeFit {
  const { cfg } = o;
  const K = o.iterations ?? cfg.iterations;
  const rng = new Rng(o.seed ?? cfg.seed);
  const H = d.heads.length;
  const pool = o.pool ?? Int32Array.from({ length: d.n }, (_, i) => i);
  if (pool.length === 0 || o.starts.length === 0) throw new RangeError('fitFqe: needs at least one row and one initial state');
  if (o.penaltyWeights && o.penaltyWeights.length !== acts.samples * d.n) throw new RangeError(`fitFqe: penaltyWeights has ${o.penaltyWeights.length} entries, expected ${acts.samples * d.n}`);
  const Q = createMlp([d.qStateDim + d.actionDim, ...cfg.hidden, H], rng);
  if (o.init) {
    const vars = mlpVariables('Q', Q);
    if (o.init.length !== vars.length) throw new RangeError(`fitFqe: init has ${o.init.length} tensors, Q has ${vars.length}`);
    tf.tidy(() => vars.forEach(([, v], i) => v.assign(tf.tensor(o.init![i], v.shape))));
  }
  const noTarget = cfg.targetEta === 1 && cfg.targetUpdateInterval === 1;
  const Qtarget = noTarget ? Q : cloneMlp(Q);
  // Polyak–Ruppert: the running mean of Q's weights over the last `averageLast` of the steps is what
  // V̂ is read from; a single iterate wanders by several percent from step to step (Adam, lr 1e-4).
  const averageFrom = Math.min(K, Math.floor(K * (1 - cfg.averageLast)) + 1);
  const Qavg = cfg.averageLast > 0 ? cloneMlp(Q) : Q;
  let averaged = 0;
  const opt = new Adam(mlpVariables('Q', Q), { lr: cfg.lr, beta1: cfg.adamBeta1, beta2: cfg.adamBeta2, eps: cfg.adamEps });
  const curves: FqeCurves = { step: [], tdLoss: [], penalty: [], vHat: [], heldOutTd: [] };
  const held = o.holdout && o.holdout.length > 0 ? heldOutInputs(d, acts, o.holdout) : null;
  const starts = startInputs(d, acts, o.starts);
  const bounds = cfg.clipValues ? d.headBounds : null;
  const t0 = performance.now();
  let sumTd = 0;
  let sumPen = 0;
  let count = 0;
  try {
    for (let step = 1; step <= K; step++) {
      const mb = sampleFqeMinibatch(d, acts, pool, rng, cfg.batchSize, o.penaltyWeights);
      try {
        const stats = tf.tidy(() => {
          const y = computeFqeTarget(Qtarget, mb, cfg.gamma, bounds);
          let td!: tf.Scalar;
          let pen!: tf.Scalar;
          const loss = opt.minimize(() => {
            const l = computeFqeLoss(Q, mb, y, cfg.alpha, { form: cfg.penalty, temperature: cfg.temperature });
            td = tf.keep(l.td);
            pen = tf.keep(l.penalty);
            return l.loss;
          });
          const out = tf.stack([td, pen]);
          tf.dispose([td, pen, loss]);
          return out;
        });
        const v = stats.dataSync();
        stats.dispose();
        sumTd += v[0];
        sumPen += v[1];
        count++;
        if (!Number.isFinite(v[0]) || !Number.isFinite(v[1])) throw new Error(`FQE diverged: TD loss ${v[0]}, penalty ${v[1]} at step ${step} (lower fqe.lr)`);
      } finally {
        disposeMinibatch(mb);
      }
      if (!noTarget && step % cfg.targetUpdateInterval === 0) {
        softUpdate(pairVariables(Q, Qtarget), cfg.targetEta);
      }
      if (Qavg !== Q && step >= averageFrom) {
        averaged += 1;
        softUpdate(pairVariables(Q, Qavg), 1 / averaged);
      }
      if (o.curves !== false && (step % cfg.logEvery === 0 || step === K)) {
        curves.step.push(step);
        curves.tdLoss.push(sumTd / count);
        curves.penalty.push(sumPen / count);
        curves.vHat.push(headValues(Q, starts, H, bounds)[0] * d.headScale[0]);
        if (held) curves.heldOutTd.push(heldOutTd(Q, held, cfg.gamma, bounds));
        sumTd = sumPen = count = 0;
      }
      o.onStep?.(step);
    }
    const value = headValues(Qavg, starts, H, bounds).map((v, h) => v * d.headScale[h]);
    let qData: Float64Array | null = null;
    let qPi: Float64Array | null = null;
    if (o.tables) [qData, qPi] = rowTables(Qavg, d, acts, bounds);
    const weights = o.keepWeights ? mlpVariables('Q', Qavg).map(([, v]) => Float32Array.from(v.dataSync() as Float32Array)) : null;
    return { value, curves, qData, qPi, weights, iterations: K, seconds: (performance.now() - t0) / 1000 };
  } finally {
    disposeMlp(Q);
    if (!noTarget) disposeMlp(Qtarget);
    if (Qavg !== Q) disposeMlp(Qavg);
    opt.dispose();
    tf.dispose([starts.s, starts.a]);
    if (held) tf.dispose(Object.values(held));
  }
}

/** The held-out rows as one batch: (s, a) and, per action sample, (s′, π_e,k(s′)); r, 1 − done, mask. */
function heldOutInputs(d: OpeData, acts: PolicyActions, rows: Int32Array) {
  const { qStateDim: S, actionDim: A, n } = d;
  const H = d.heads.length;
  const m = rows.length;
  const K = acts.samples;
  const s = new Float32Array(m * S);
  const a = new Float32Array(m * A);
  const s2 = new Float32Array(K * m * S);
  const a2 = new Float32Array(K * m * A);
  const r = new Float32Array(m * H);
  const notDone = new Float32Array(m);
  const mask = new Float32Array(m);
  rows.forEach((i, b) => {
    s.set(d.qs.subarray(i * S, (i + 1) * S), b * S);
    a.set(d.a.subarray(i * A, (i + 1) * A), b * A);
    for (let k = 0; k < K; k++) {
      s2.set(d.qs2.subarray(i * S, (i + 1) * S), (k * m + b) * S);
      a2.set(acts.pi2.subarray((k * n + i) * A, (k * n + i + 1) * A), (k * m + b) * A);
    }
    r.set(d.y.subarray(i * H, (i + 1) * H), b * H);
    notDone[b] = d.notDone[i];
    mask[b] = d.mask[i];
  });
  return {
    s: tf.tensor2d(s, [m, S]),
    a: tf.tensor2d(a, [m, A]),
    s2: tf.tensor2d(s2, [K * m, S]),
    a2: tf.tensor2d(a2, [K * m, A]),
    r: tf.tensor2d(r, [m, H]),
    notDone: tf.tensor2d(notDone, [m, 1]),
    mask: tf.tensor2d(mask, [m, 1]),
  };
}

/** ½·mean_masked (Q(s, a) − y)², summed over heads, y = r + γ(1 − done)·mean_k clip(Q(s′, π_e,k(s′))): the TD loss on rows FQE never fitted. */
function heldOutTd(Q: Mlp, x: ReturnType<typeof heldOutInputs>, gamma: number, bounds: readonly (readonly [number, number])[] | null): number {
  return tf.tidy(() => {
    const m = x.r.shape[0];
    const K = x.s2.shape[0] / m;
    // Eq. (9)'s target per action sample, averaged (the target is linear in Q′)
    const targets = Array.from({ length: K }, (_, k) =>
      computeFqeTarget(Q, { s2: tf.slice(x.s2, [k * m, 0], [m, -1]), aNext: tf.slice(x.a2, [k * m, 0], [m, -1]), r: x.r, notDone: x.notDone }, gamma, bounds),
    );
    const y = tf.mean(tf.stack(targets), 0);
    const se = tf.sum(tf.mul(x.mask, tf.squaredDifference(mlp(Q, [x.s, x.a]), y)));
    return (0.5 * se.dataSync()[0]) / Math.max(1, x.mask.sum().dataSync()[0]);
  });
}

/** (online, copy) variable pairs of two MLPs of the same shape. */
function pairVariables(online: Mlp, copy: Mlp): [tf.Variable, tf.Variable][] {
  const c = mlpVariables('Q', copy);
  return mlpVariables('Q', online).map(([, x], i): [tf.Variable, tf.Variable] => [x, c[i][1]]);
}

/** The initial states, each repeated once per action sample: s₀ and π_e,k(s₀), normalised. */
function startInputs(d: OpeData, acts: PolicyActions, starts: Int32Array): { s: tf.Tensor2D; a: tf.Tensor2D } {
  const { qStateDim: S, actionDim: A, n } = d;
  const rows = starts.length * acts.samples;
  const s = new Float32Array(rows * S);
  const a = new Float32Array(rows * A);
  let r = 0;
  for (let k = 0; k < acts.samples; k++) {
    for (const i of starts) {
      s.set(d.qs.subarray(i * S, (i + 1) * S), r * S);
      a.set(acts.pi.subarray((k * n + i) * A, (k * n + i + 1) * A), r * A);
      r++;
    }
  }
  return { s: tf.tensor2d(s, [rows, S]), a: tf.tensor2d(a, [rows, A]) };
}

/** Eq. (10) per head, in scaled units: the mean of Q (clipped to `bounds` when given) over the (initial state, sample) rows. */
function headValues(Q: Mlp, x: { s: tf.Tensor2D; a: tf.Tensor2D }, H: number, bounds: readonly (readonly [number, number])[] | null): number[] {
  const v = tf.tidy(() => tf.mean(clipHeads(mlp(Q, [x.s, x.a]), bounds), 0).dataSync());
  return Array.from({ length: H }, (_, h) => v[h]);
}

/** Q(s_i, a_i) and mean_k Q(s_i, π_e,k(s_i)) of head 0 on every row, reward units. */
function rowTables(Q: Mlp, d: OpeData, acts: PolicyActions, bounds: readonly (readonly [number, number])[] | null): [Float64Array, Float64Array] {
  const { n, qStateDim: S, actionDim: A } = d;
  const H = d.heads.length;
  const qData = new Float64Array(n);
  const qPi = new Float64Array(n);
  const CHUNK = 4096;
  for (let i0 = 0; i0 < n; i0 += CHUNK) {
    const m = Math.min(CHUNK, n - i0);
    tf.tidy(() => {
      const s = tf.tensor2d(d.qs.subarray(i0 * S, (i0 + m) * S), [m, S]);
      const q0 = clipHeads(mlp(Q, [s, tf.tensor2d(d.a.subarray(i0 * A, (i0 + m) * A), [m, A])]), bounds).dataSync();
      for (let i = 0; i < m; i++) qData[i0 + i] = q0[i * H] * d.headScale[0];
      for (let k = 0; k < acts.samples; k++) {
        const off = k * n * A;
        const q1 = clipHeads(mlp(Q, [s, tf.tensor2d(acts.pi.subarray(off + i0 * A, off + (i0 + m) * A), [m, A])]), bounds).dataSync();
        for (let i = 0; i < m; i++) qPi[i0 + i] += (q1[i * H] * d.headScale[0]) / acts.samples;
      }
    });
  }
  return [qData, qPi];
}
