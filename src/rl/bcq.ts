/**
 * Batch-Constrained deep Q-learning as BatchRL-MTF's Algorithm 1 states it (Zhang et al.; Fujimoto et al.
 * 2019). One `step` = one pass of the algorithm box on one minibatch:
 *   1. G (the VAE) on Eq. (3);
 *   2. the twin critics on the target of Eq. (7) over n sampled, perturbed actions at s′;
 *   3. the perturbation network by DPG through Q1 (Eq. 5);
 *   4. every L steps, soft target updates with rate η.
 * The policy is Eq. (4): the argmax of Q1 over n perturbed VAE samples.
 *
 * With `responses` (TSCAC's multi-critic, Cai et al.), step 2 trains one twin critic per response on its
 * own rewards and γ_i (`computeResponseTargets`, `computeResponseCriticLoss`), and Q1 in steps 3 and
 * Eq. (4) is the weighted sum Σ_i w_i·Q1_i (README §7).
 */
import * as tf from '@tensorflow/tfjs';
import { Adam } from './adam.ts';
import { normal, read, repeatRows, type Algorithm, type Minibatch, type PolicyNetworks } from './algorithm.ts';
import type { BcqConfig, CriticEnsemble } from './config.ts';
import { actorQ, actorQSpec, checkEnsemble, drawSubset, ensembleTargetQ, isTwinDefault } from './ensemble.ts';
import { FusedBcqStep } from './fusedBcq.ts';
import { lerpInto } from './kernels.ts';
import {
  cloneResponseTwinCritic,
  cloneTwinCritic,
  createResponseTwinCritic,
  createTwinCritic,
  criticNets,
  disposeResponseTwinCritic,
  disposeTwinCritic,
  q,
  qResponses,
  responseTwinCriticVariables,
  sumOfResponsesSpec,
  twinCriticVariables,
  type ResponseTwinCritic,
  type TwinCritic,
} from './networks/critic.ts';
import { cloneMlp, disposeMlp, mlpSpec, mlpVariables, type Mlp } from './networks/mlp.ts';
import { createPerturbation, perturb, type Perturbation } from './networks/perturbation.ts';
import { createVae, decode, disposeVae, reconWeights, sampleActions, vaeLoss, vaeVariables, type Vae } from './networks/vae.ts';
import type { NativeBlas } from './native.ts';
import type { Rng } from './rng.ts';

export interface BcqNetworks {
  G: Vae;
  /** perturbation network ξ_φ */
  P: Perturbation;
  /** target perturbation network ξ_φ′ */
  PTarget: Perturbation;
  Q: TwinCritic;
  QTarget: TwinCritic;
}

/** BCQ with per-response critics (config `responses`): Q/QTarget give one column per response. */
export interface BcqResponseNetworks extends Omit<BcqNetworks, 'Q' | 'QTarget'> {
  Q: ResponseTwinCritic;
  QTarget: ResponseTwinCritic;
}

export function isResponseNetworks(n: BcqNetworks | BcqResponseNetworks): n is BcqResponseNetworks {
  return Array.isArray(n.Q.q1);
}

export function buildBcqNetworks(stateDim: number, actionDim: number, cfg: BcqConfig, rng: Rng): BcqNetworks | BcqResponseNetworks {
  const latentDim = cfg.latentDim ?? 2 * actionDim; // paper: latent dim 2·k
  const G = createVae(stateDim, actionDim, latentDim, cfg.vaeHidden, rng);
  const P = createPerturbation(stateDim, actionDim, cfg.actorHidden, rng);
  if (cfg.responses) {
    const names = cfg.responses.map((r) => r.name);
    const Q = createResponseTwinCritic(stateDim, actionDim, cfg.criticHidden, names, cfg.responseCritic, rng);
    return { G, P, PTarget: cloneMlp(P), Q, QTarget: cloneResponseTwinCritic(Q) };
  }
  const Q = createTwinCritic(stateDim, actionDim, cfg.criticHidden, rng, cfg.critics?.count);
  return { G, P, PTarget: cloneMlp(P), Q, QTarget: cloneTwinCritic(Q) };
}

/**
 * Eq. (7): y = r + γ·(1 − done)·max_i [λ·min_j Q′_j(s′, a′_i) + (1 − λ)·max_j Q′_j(s′, a′_i)],
 * a′_i = ξ_φ′(s′, D(s′, z_i)), z_i ~ clip(N(0, 1), −zClip, zClip), i = 1…n.
 * s2Rep is s′ repeated n times row by row, z the [B·n, latent] samples. Returns y as [B, 1].
 * With `discount` ([B, 1], n-step rows: γ^m·(1 − done)), y = r + discount·max_i[…] instead, r being
 * the discounted sum of the m rewards and s′ the state after them.
 * With ensemble pessimism (`critics`, src/rl/ensemble.ts) min_j / max_j run over the N critics (or the
 * step's `subset` of them), or mean − k·sd replaces the λ-mix.
 */
export function computeTarget(
  nets: BcqNetworks,
  r: tf.Tensor2D,
  notDone: tf.Tensor2D,
  s2Rep: tf.Tensor2D,
  z: tf.Tensor2D,
  cfg: Pick<BcqConfig, 'gamma' | 'lambda' | 'rho'> & { critics?: CriticEnsemble },
  discount?: tf.Tensor2D | null,
  subset: number[] | null = null,
): tf.Tensor2D {
  return tf.tidy(() => {
    const B = r.shape[0];
    const aNext = perturb(nets.PTarget, s2Rep, decode(nets.G, s2Rep, z), cfg.rho);
    const qLambda = ensembleTargetQ(nets.QTarget, s2Rep, aNext, cfg.critics, cfg.lambda, subset);
    const nextQ = tf.max(tf.reshape(qLambda, [B, -1]), 1, true) as tf.Tensor2D; // max over the n samples
    if (discount) return tf.add(r, tf.mul(discount, nextQ));
    return tf.add(r, tf.mul(cfg.gamma, tf.mul(notDone, nextQ)));
  });
}

/**
 * The critics' regression onto the target y of Eq. (7): Σ_j mean_i w_i·(Q_j(s_i, a_i) − y_i)², with
 * w_i = 0 on truncated rows (no known s′, so no usable target) and the mean over the rows that count;
 * j over the twin pair, or the N critics of an ensemble.
 */
export function computeCriticLoss(Q: TwinCritic, s: tf.Tensor2D, a: tf.Tensor2D, y: tf.Tensor2D, mask: tf.Tensor2D) {
  const qs = criticNets(Q).map((n) => q(n, s, a));
  const q1 = qs[0];
  const rows = tf.maximum(tf.sum(mask), 1);
  const se = qs.map((x) => tf.squaredDifference(x, y)).reduce((x, e) => tf.add(x, e));
  const loss = tf.div(tf.sum(tf.mul(mask, se)), rows) as tf.Scalar;
  return { loss, q1 };
}

/**
 * Eq. (5), DPG: maximise Q1(s, ξ_φ(s, a)) over φ for a ~ G(s), i.e. minimise −mean Q1. Given the critics
 * instead of Q1, through the actor's Q of ensemble.ts (Q1 for the pair, the mean of N > 2).
 */
export function computeActorLoss(P: Perturbation, Q1: Mlp | TwinCritic, s: tf.Tensor2D, aG: tf.Tensor2D, rho: number): tf.Scalar {
  const a = perturb(P, s, aG, rho);
  return tf.neg(tf.mean('layers' in Q1 ? q(Q1, s, a) : actorQ(Q1, s, a))) as tf.Scalar;
}

/**
 * Eq. (7) per response (TSCAC's multi-critic). For each s′ the n candidates a′_k = ξ_φ′(s′, D(s′, z_k)) are
 * those of Eq. (7); per response i, c_i(a′_k) = λ·min_j Q′_{j,i}(s′, a′_k) + (1 − λ)·max_j Q′_{j,i}(s′, a′_k)
 * (clipped double Q per response). The max over the n samples is taken once, on the weighted sum:
 * k* = argmax_k Σ_i c_i(a′_k) — the critics learn κ·w_i·v_i, so the plain sum of the columns is
 * κ·Σ_i w_i·Q_i, the quantity the actor and Eq. (4) maximise — and every response bootstraps from that
 * one action: y_i = r_i + discount_i·c_i(a′_{k*}), with r_i = κ·w_i·Σ_{k<m} γ_i^k v_{i,t+k} and
 * discount_i = γ_i^m·(1 − done) (the trainer's n-step columns). rR, discountR: [B, R]; s2Rep, z as in
 * `computeTarget`. Returns y as [B, R].
 */
export function computeResponseTargets(
  nets: BcqResponseNetworks,
  rR: tf.Tensor2D,
  discountR: tf.Tensor2D,
  s2Rep: tf.Tensor2D,
  z: tf.Tensor2D,
  cfg: Pick<BcqConfig, 'lambda' | 'rho'>,
): tf.Tensor2D {
  return tf.tidy(() => {
    const B = rR.shape[0];
    const n = s2Rep.shape[0] / B;
    const aNext = perturb(nets.PTarget, s2Rep, decode(nets.G, s2Rep, z), cfg.rho);
    const q1Next = qResponses(nets.QTarget.q1, s2Rep, aNext); // [B·n, R]
    const q2Next = qResponses(nets.QTarget.q2, s2Rep, aNext);
    const minQ = tf.minimum(q1Next, q2Next);
    const c = cfg.lambda === 1 ? minQ : tf.add(tf.mul(cfg.lambda, minQ), tf.mul(1 - cfg.lambda, tf.maximum(q1Next, q2Next)));
    const best = tf.argMax(tf.reshape(tf.sum(c, 1), [B, n]), 1); // k* on the weighted sum (first maximum)
    const rows = tf.add(tf.mul(tf.range(0, B, 1, 'int32'), tf.scalar(n, 'int32')), best);
    const cBest = tf.gather(c, rows) as tf.Tensor2D; // [B, R]: every response at a′_{k*}
    return tf.add(rR, tf.mul(discountR, cBest));
  });
}

/**
 * The per-response critics' regression onto y [B, R]: Σ_j mean_rows w·Σ_i (Q_{j,i}(s, a) − y_i)² (rows
 * weighted by the truncation mask as in `computeCriticLoss`); each response's term is in its own
 * (scaled) units. Returns the loss and Q1 as [B, R].
 */
export function computeResponseCriticLoss(Q: ResponseTwinCritic, s: tf.Tensor2D, a: tf.Tensor2D, y: tf.Tensor2D, mask: tf.Tensor2D) {
  const q1 = qResponses(Q.q1, s, a);
  const q2 = qResponses(Q.q2, s, a);
  const rows = tf.maximum(tf.sum(mask), 1);
  const se = tf.sum(tf.add(tf.squaredDifference(q1, y), tf.squaredDifference(q2, y)), 1, true); // [B, 1]
  const loss = tf.div(tf.sum(tf.mul(mask, se)), rows) as tf.Scalar;
  return { loss, q1 };
}

/** Eq. (5) with per-response critics: maximise Σ_i w_i·Q1_i(s, ξ_φ(s, a)), i.e. minimise −mean_rows Σ_i Q1_i (weights folded in the critics). */
export function computeResponseActorLoss(P: Perturbation, Q1: Mlp[], s: tf.Tensor2D, aG: tf.Tensor2D, rho: number): tf.Scalar {
  return tf.neg(tf.mean(tf.sum(qResponses(Q1, s, perturb(P, s, aG, rho)), 1))) as tf.Scalar;
}

/** θ′ ← η·θ + (1 − η)·θ′ for each pair of (online, target) variables. */
export function softUpdate(pairs: [tf.Variable, tf.Variable][], eta: number): void {
  for (const [online, target] of pairs) lerpInto(target, online, eta);
}

export class Bcq implements Algorithm {
  readonly name = 'bcq' as const;
  /** n for Eq. 7's s′ repeated per sample; 0 once the step is fused (it reads s′ once per row) */
  get nextStateRepeats(): number {
    return this.fused ? 0 : this.cfg.numSamples;
  }
  readonly nets: BcqNetworks | BcqResponseNetworks;
  private readonly optG: Adam;
  private readonly optP: Adam;
  private readonly optQ: Adam;
  private steps = 0;
  /** 1/σ_j² per action coordinate with vaeActionScale = standardized (setActionSpread), else null */
  private reconWeight: tf.Tensor1D | null = null;
  private reconWeightValues: Float32Array | null = null;
  /** the whole step as one native call (fusedBcq.ts), when the trainer enabled it */
  private fused: FusedBcqStep | null = null;

  constructor(
    readonly stateDim: number,
    readonly actionDim: number,
    readonly cfg: BcqConfig,
    rng: Rng,
  ) {
    checkEnsemble(cfg);
    this.nets = buildBcqNetworks(stateDim, actionDim, cfg, rng);
    const adam = { beta1: cfg.adamBeta1, beta2: cfg.adamBeta2, eps: cfg.adamEps };
    this.optG = new Adam(vaeVariables('G', this.nets.G), { ...adam, lr: cfg.lrVae });
    this.optP = new Adam(mlpVariables('P', this.nets.P), { ...adam, lr: cfg.lrActor });
    this.optQ = new Adam(this.criticVariables('Q'), { ...adam, lr: cfg.lrCritic });
  }

  private criticVariables(which: 'Q' | 'QTarget'): [string, tf.Variable][] {
    const n = this.nets;
    return isResponseNetworks(n) ? responseTwinCriticVariables(which, n[which]) : twinCriticVariables(which, n[which]);
  }

  /**
   * Runs every later `step` as one native call (native/blas/mtf_fused.c) instead of the tfjs graph: the
   * same arithmetic to float rounding, the same draws from the RNG. Single-critic BCQ with the twin pair
   * only; returns false (and keeps the tfjs step) with per-response critics or ensemble pessimism.
   */
  useFusedStep(blas: NativeBlas, batchSize: number): boolean {
    const n = this.nets;
    if (isResponseNetworks(n) || !isTwinDefault(this.cfg.critics)) return false;
    this.fused = new FusedBcqStep(blas, { ...n, optG: this.optG, optP: this.optP, optQ: this.optQ }, this.cfg, this.stateDim, this.actionDim, batchSize);
    return true;
  }

  step(mb: Minibatch, rng: Rng): Record<string, number> {
    if (isResponseNetworks(this.nets)) return this.stepResponses(this.nets, mb, rng);
    if (this.fused) {
      // the counters as the tfjs path keeps them: each optimiser's t before its update, steps before Eq. 7's L
      const t = { G: ++this.optG.t, Q: ++this.optQ.t, P: ++this.optP.t };
      this.steps += 1;
      return this.fused.step(mb, rng, t, this.steps % this.cfg.targetUpdateInterval === 0, this.reconWeightValues);
    }
    const { cfg } = this;
    const nets = this.nets;
    const { G, P, Q } = nets;
    const B = mb.s.shape[0];
    const L = G.latentDim;
    if (!mb.s2Rep) throw new Error('BCQ needs the minibatch to carry s′ repeated n times (s2Rep)');
    const s2Rep = mb.s2Rep;
    const out = tf.tidy(() => {
      // 1. Generative model, Eq. (3).
      const eps = normal(rng, B, L);
      let recon!: tf.Scalar, kl!: tf.Scalar;
      const lossG = this.optG.minimize(() => {
        const t = vaeLoss(G, mb.s, mb.a, eps, cfg.klWeight, cfg.logStdMin, cfg.logStdMax, this.reconWeight);
        recon = tf.keep(t.recon);
        kl = tf.keep(t.kl);
        return t.loss;
      });

      // 2. Critics on the target of Eq. (7), computed without gradient.
      const zNext = normal(rng, B * cfg.numSamples, L, cfg.zClip);
      const y = computeTarget(nets, mb.r, mb.notDone, s2Rep, zNext, cfg, mb.discount, drawSubset(cfg.critics, rng));
      let q1!: tf.Tensor2D;
      const lossQ = this.optQ.minimize(() => {
        const t = computeCriticLoss(Q, mb.s, mb.a, y, mb.mask);
        q1 = tf.keep(t.q1);
        return t.loss;
      });

      // 3. Perturbation network by DPG through Q1 (an ensemble: its mean), Eq. (5), on actions sampled from G.
      const aG = decode(G, mb.s, normal(rng, B, L, cfg.zClip));
      const lossP = this.optP.minimize(() => computeActorLoss(P, Q, mb.s, aG, cfg.rho));

      // 4. Soft target updates every L steps.
      this.steps += 1;
      if (this.steps % cfg.targetUpdateInterval === 0) this.updateTargets();

      const { mean: qMean, variance: qVar } = tf.moments(q1);
      const stats = tf.stack([lossG, recon, kl, lossQ, lossP, qMean, tf.sqrt(qVar), tf.mean(y)]);
      tf.dispose([recon, kl, q1]); // kept out of the gradient scopes above
      return stats;
    });
    const v = out.dataSync();
    out.dispose();
    return { vaeLoss: v[0], vaeRecon: v[1], vaeKl: v[2], criticLoss: v[3], actorLoss: v[4], qMean: v[5], qStd: v[6], targetMean: v[7] };
  }

  /**
   * One step with per-response critics: as `step`, with step 2 on `computeResponseTargets` /
   * `computeResponseCriticLoss` (mb.rR, mb.discountR: the trainer's per-response columns) and step 3
   * through Σ_i Q1_i. Besides the usual scalars (qMean, targetMean: of the weighted sum) it reports
   * `qMean.<name>` and `targetMean.<name>`: the mean Q1_i and y_i per response divided by w_i (the
   * trainer then divides by κ: response units, e.g. discounted seconds of play or likes).
   */
  private stepResponses(nets: BcqResponseNetworks, mb: Minibatch, rng: Rng): Record<string, number> {
    const { cfg } = this;
    const { G, P, Q } = nets;
    const responses = cfg.responses!;
    const B = mb.s.shape[0];
    const L = G.latentDim;
    if (!mb.s2Rep) throw new Error('BCQ needs the minibatch to carry s′ repeated n times (s2Rep)');
    if (!mb.rR || !mb.discountR) throw new Error('BCQ with responses needs the per-response reward and discount columns (rR, discountR)');
    const s2Rep = mb.s2Rep;
    const [rR, discountR] = [mb.rR, mb.discountR];
    const out = tf.tidy(() => {
      // 1. Generative model, Eq. (3).
      const eps = normal(rng, B, L);
      let recon!: tf.Scalar, kl!: tf.Scalar;
      const lossG = this.optG.minimize(() => {
        const t = vaeLoss(G, mb.s, mb.a, eps, cfg.klWeight, cfg.logStdMin, cfg.logStdMax, this.reconWeight);
        recon = tf.keep(t.recon);
        kl = tf.keep(t.kl);
        return t.loss;
      });

      // 2. Per-response critics on Eq. (7) per response, computed without gradient.
      const zNext = normal(rng, B * cfg.numSamples, L, cfg.zClip);
      const y = computeResponseTargets(nets, rR, discountR, s2Rep, zNext, cfg);
      let q1!: tf.Tensor2D;
      const lossQ = this.optQ.minimize(() => {
        const t = computeResponseCriticLoss(Q, mb.s, mb.a, y, mb.mask);
        q1 = tf.keep(t.q1);
        return t.loss;
      });

      // 3. Perturbation network by DPG through Σ_i Q1_i, Eq. (5).
      const aG = decode(G, mb.s, normal(rng, B, L, cfg.zClip));
      const lossP = this.optP.minimize(() => computeResponseActorLoss(P, Q.q1, mb.s, aG, cfg.rho));

      // 4. Soft target updates every L steps.
      this.steps += 1;
      if (this.steps % cfg.targetUpdateInterval === 0) this.updateTargets();

      const qSum = tf.sum(q1, 1);
      const { mean: qMean, variance: qVar } = tf.moments(qSum);
      const w = tf.tensor1d(responses.map((r) => r.weight));
      const stats = tf.concat([
        tf.stack([lossG, recon, kl, lossQ, lossP, qMean, tf.sqrt(qVar), tf.mean(tf.sum(y, 1))]),
        tf.div(tf.mean(q1, 0), w),
        tf.div(tf.mean(y, 0), w),
      ]);
      tf.dispose([recon, kl, q1]); // kept out of the gradient scopes above
      return stats;
    });
    const v = out.dataSync();
    out.dispose();
    const res: Record<string, number> = { vaeLoss: v[0], vaeRecon: v[1], vaeKl: v[2], criticLoss: v[3], actorLoss: v[4], qMean: v[5], qStd: v[6], targetMean: v[7] };
    const R = responses.length;
    responses.forEach((r, i) => {
      res[`qMean.${r.name}`] = v[8 + i];
      res[`targetMean.${r.name}`] = v[8 + R + i];
    });
    return res;
  }

  private updateTargets(): void {
    const pairs = (a: [string, tf.Variable][], b: [string, tf.Variable][]) => a.map(([, x], i): [tf.Variable, tf.Variable] => [x, b[i][1]]);
    softUpdate(pairs(mlpVariables('P', this.nets.P), mlpVariables('P', this.nets.PTarget)), this.cfg.eta);
    softUpdate(pairs(this.criticVariables('Q'), this.criticVariables('QTarget')), this.cfg.eta);
  }

  /** Q1(s, a) as [rows, 1]; with responses Σ_i w_i·Q1_i (the columns already carry w_i); an ensemble of N > 2: the mean. */
  private q1Sum(s: tf.Tensor2D, a: tf.Tensor2D): tf.Tensor2D {
    const n = this.nets;
    return isResponseNetworks(n) ? tf.sum(qResponses(n.Q.q1, s, a), 1, true) : actorQ(n.Q, s, a);
  }

  /** Eq. (4): π(s) = argmax_{a_i} Q1(s, a_i), a_i = ξ_φ(s, D(s, z_i)), i = 1…n (with responses: of Σ_i w_i·Q1_i). */
  act(states: Float32Array, count: number, rng: Rng, latent?: Float32Array | null): Float32Array {
    const { nets, cfg, stateDim, actionDim } = this;
    const n = cfg.numSamples;
    const L = nets.G.latentDim;
    if (latent && latent.length !== n * L) throw new RangeError(`BCQ act: baked latent has ${latent.length} values, expected ${n} × ${L}`);
    const sRep = repeatRows(states, count, stateDim, n);
    const candidates = tf.tidy(() => {
      const s = tf.tensor2d(sRep, [count * n, stateDim]);
      // Eq. (4): n codes per state — fresh draws, or the same baked n codes for every state (as exported)
      const z = latent ? tf.tile(tf.tensor2d(latent, [n, L]), [count, 1]) : normal(rng, count * n, L, cfg.zClip);
      const a = perturb(nets.P, s, decode(nets.G, s, z as tf.Tensor2D), cfg.rho);
      return [a, this.q1Sum(s, a)];
    });
    const aAll = read(candidates[0]);
    const qAll = read(candidates[1]);
    tf.dispose(candidates);
    const out = new Float32Array(count * actionDim);
    for (let i = 0; i < count; i++) {
      let best = i * n;
      for (let j = i * n + 1; j < (i + 1) * n; j++) if (qAll[j] > qAll[best]) best = j;
      out.set(aAll.subarray(best * actionDim, (best + 1) * actionDim), i * actionDim);
    }
    return out;
  }

  setActionSpread(sd: ArrayLike<number>): void {
    this.reconWeight?.dispose();
    this.reconWeightValues = this.cfg.vaeActionScale === 'standardized' ? reconWeights(sd) : null;
    this.reconWeight = this.reconWeightValues ? tf.tensor1d(this.reconWeightValues.slice()) : null;
  }

  sampleGenerator(states: Float32Array, count: number, samples: number, rng: Rng, zClip: number | null): Float32Array {
    const z = rng.fillNormal(new Float32Array(count * samples * this.nets.G.latentDim), zClip ?? Infinity);
    return sampleActions(this.nets.G, states, count, this.stateDim, samples, z);
  }

  q1(states: Float32Array, actions: Float32Array, count: number): Float32Array {
    return tf.tidy(() => read(this.q1Sum(tf.tensor2d(states, [count, this.stateDim]), tf.tensor2d(actions, [count, this.actionDim]))));
  }

  /** Q1_i(s, a) per response, [count × R] row-major, in the critics' units (κ·w_i per unit of response i); null without responses. */
  qResponses(states: Float32Array, actions: Float32Array, count: number): Float32Array | null {
    const n = this.nets;
    if (!isResponseNetworks(n)) return null;
    return tf.tidy(() => read(qResponses(n.Q.q1, tf.tensor2d(states, [count, this.stateDim]), tf.tensor2d(actions, [count, this.actionDim]))));
  }

  variables(): [string, tf.Variable][] {
    const { G, P, PTarget } = this.nets;
    return [
      ...vaeVariables('G', G),
      ...mlpVariables('P', P),
      ...mlpVariables('PTarget', PTarget),
      ...this.criticVariables('Q'),
      ...this.criticVariables('QTarget'),
      ...this.optG.slots('G'),
      ...this.optP.slots('P'),
      ...this.optQ.slots('Q'),
    ];
  }

  counters(): Record<string, number> {
    return { steps: this.steps, adamG: this.optG.t, adamP: this.optP.t, adamQ: this.optQ.t };
  }

  setCounters(c: Record<string, number>): void {
    this.steps = c.steps;
    this.optG.t = c.adamG;
    this.optP.t = c.adamP;
    this.optQ.t = c.adamQ;
  }

  policyNetworks(): PolicyNetworks {
    const n = this.nets;
    const { G, P } = n;
    return {
      kind: 'bcq',
      decoder: mlpSpec(G.decoder, 'tanh'),
      perturbation: mlpSpec(P, 'tanh'),
      // with responses: Σ_i w_i·Q1_i folded into one MLP, exactly (Eq. 4 needs only that sum)
      q1: isResponseNetworks(n) ? sumOfResponsesSpec(n.Q.q1) : actorQSpec(n.Q),
      latentDim: G.latentDim,
      zClip: this.cfg.zClip,
      rho: this.cfg.rho,
      numSamples: this.cfg.numSamples,
    };
  }

  dispose(): void {
    const n = this.nets;
    disposeVae(n.G);
    this.reconWeight?.dispose();
    disposeMlp(n.P);
    disposeMlp(n.PTarget);
    if (isResponseNetworks(n)) {
      disposeResponseTwinCritic(n.Q);
      disposeResponseTwinCritic(n.QTarget);
    } else {
      disposeTwinCritic(n.Q);
      disposeTwinCritic(n.QTarget);
    }
    this.optG.dispose();
    this.optP.dispose();
    this.optQ.dispose();
  }
}
