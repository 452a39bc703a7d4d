/**
 * TD3 (Fujimoto et al. 2018) trained offline without any batch constraint — the paper's example of
 * extrapolation error: its critics are queried at actions the data never shows, their estimates run
 * away and the actor follows them out of the data — and, with `alpha`, TD3+BC (Fujimoto & Gu 2021),
 * which adds a behavior-cloning term to the actor: −λ·Q1(s, μ(s)) + (μ(s) − a)², λ = α / mean|Q1|.
 * Deviation from both references: target networks follow this repo's schedule (η every L steps,
 * the paper's BCQ setting) instead of τ = 0.005 after every actor update, so all algorithms share it.
 *
 * With `responses` (TSCAC's multi-critic) the twin critics give one column per response, each on its own
 * rewards and γ_i (`computeTd3ResponseTargets`), and Q1 in the actor loss (and TD3+BC's λ) is Σ_i w_i·Q1_i.
 * With ensemble pessimism (`critics`, src/rl/ensemble.ts) N critics share the target, its min_j runs over
 * the N (or a subset M drawn per step) or becomes mean − k·sd, and the actor maximises the same aggregate
 * of the online critics (subset-min: their mean; ensemble.ts `actorQ`).
 */
import * as tf from '@tensorflow/tfjs';
import { Adam } from '../adam.ts';
import { normal, read, type Algorithm, type Minibatch, type PolicyNetworks } from '../algorithm.ts';
import { computeCriticLoss, computeResponseCriticLoss, softUpdate } from '../bcq.ts';
import { boxActorPenalty, boxMu2Of, boxMuOf, boxTargetValue, type BoxSettings } from '../behaviorBox.ts';
import type { CriticEnsemble, Td3Config } from '../config.ts';
import { actorQ, checkEnsemble, drawSubset, ensembleTargetQ } from '../ensemble.ts';
import {
  cloneResponseTwinCritic,
  cloneTwinCritic,
  createResponseTwinCritic,
  createTwinCritic,
  disposeResponseTwinCritic,
  disposeTwinCritic,
  q,
  qResponses,
  responseTwinCriticVariables,
  twinCriticVariables,
  type ResponseTwinCritic,
  type TwinCritic,
} from '../networks/critic.ts';
import { cloneMlp, createMlp, disposeMlp, mlp, mlpSpec, mlpVariables, type Mlp } from '../networks/mlp.ts';
import type { Rng } from '../rng.ts';

export interface Td3Networks {
  mu: Mlp;
  muTarget: Mlp;
  Q: TwinCritic;
  QTarget: TwinCritic;
}

/** TD3 with per-response critics (config `responses`). */
export interface Td3ResponseNetworks extends Omit<Td3Networks, 'Q' | 'QTarget'> {
  Q: ResponseTwinCritic;
  QTarget: ResponseTwinCritic;
}

function isResponseNetworks(n: Td3Networks | Td3ResponseNetworks): n is Td3ResponseNetworks {
  return Array.isArray(n.Q.q1);
}

/** μ(s) = tanh(MLP(s)): an action in the normalised box. */
export function actor(mu: Mlp, s: tf.Tensor2D): tf.Tensor2D {
  return mlp(mu, s, 'tanh');
}

/**
 * TD3 target: y = r + γ(1 − done)·min_j Q′_j(s′, clip(μ′(s′) + clip(σε, −c, c), −1, 1)) (n-step rows:
 * γ^m(1 − done), see Minibatch.discount); min_j per `critics` (ensemble.ts; `subset`: subset-min's draw).
 */
export function computeTd3Target(nets: Td3Networks, mb: Minibatch, noise: tf.Tensor2D, cfg: Td3Config, subset: number[] | null = null, box: BoxSettings | null = null): tf.Tensor2D {
  return tf.tidy(() => {
    const smoothing = tf.clipByValue(tf.mul(noise, cfg.policyNoise), -cfg.noiseClip, cfg.noiseClip);
    const aNext = tf.clipByValue(tf.add(actor(nets.muTarget, mb.s2), smoothing), -1, 1) as tf.Tensor2D;
    const minQ = ensembleTargetQ(nets.QTarget, mb.s2, aNext, cfg.critics, 1, subset);
    // box-aware (behaviorBox.ts): a target action outside [μ(s′) − h, μ(s′) + h] loses value
    const nextQ = box ? boxTargetValue(minQ, aNext, boxMu2Of(mb), box) : minQ;
    if (mb.discount) return tf.add(mb.r, tf.mul(mb.discount, nextQ)); // n-step rows: γ^m·(1 − done)
    return tf.add(mb.r, tf.mul(cfg.gamma, tf.mul(mb.notDone, nextQ)));
  });
}

/**
 * The TD3 target per response: y_i = r_i + discount_i·min_j Q′_{j,i}(s′, ã), ã the smoothed target action
 * of `computeTd3Target` (one action for every response, so no choice among samples is needed); r_i,
 * discount_i the trainer's per-response columns [B, R] (Minibatch.rR, discountR). Returns [B, R].
 */
export function computeTd3ResponseTargets(nets: Td3ResponseNetworks, mb: Minibatch, noise: tf.Tensor2D, cfg: Td3Config): tf.Tensor2D {
  if (!mb.rR || !mb.discountR) throw new Error('TD3 with responses needs the per-response reward and discount columns (rR, discountR)');
  const [rR, discountR] = [mb.rR, mb.discountR];
  return tf.tidy(() => {
    const smoothing = tf.clipByValue(tf.mul(noise, cfg.policyNoise), -cfg.noiseClip, cfg.noiseClip);
    const aNext = tf.clipByValue(tf.add(actor(nets.muTarget, mb.s2), smoothing), -1, 1) as tf.Tensor2D;
    const nextQ = tf.minimum(qResponses(nets.QTarget.q1, mb.s2, aNext), qResponses(nets.QTarget.q2, mb.s2, aNext));
    return tf.add(rR, tf.mul(discountR, nextQ));
  });
}

/** The critics with their ensemble config, for the actor's Q of ensemble.ts `actorQ`. */
export interface Td3ActorCritics {
  Q: TwinCritic;
  critics: CriticEnsemble;
}

/**
 * Q1 of the actor: the single critic, Σ_i Q1_i (weights folded into the per-response critics), or given
 * the critics and their config, the actor's Q of ensemble.ts (Q1 for the default pair, else the aggregate).
 */
function q1Of(Q1: Mlp | Mlp[] | Td3ActorCritics, s: tf.Tensor2D, a: tf.Tensor2D): tf.Tensor2D {
  if (Array.isArray(Q1)) return tf.sum(qResponses(Q1, s, a), 1, true);
  return 'layers' in Q1 ? q(Q1, s, a) : actorQ(Q1.Q, s, a, Q1.critics);
}

/**
 * TD3: −mean Q1(s, μ(s)); TD3+BC: −λ·mean Q1(s, μ(s)) + mean (μ(s) − a)², where λ = α / mean|Q1(s, μ(s))|
 * is a constant of the step (computed by the caller with the same weights: no gradient flows through it).
 */
export function computeTd3ActorLoss(
  mu: Mlp,
  Q1: Mlp | Mlp[] | Td3ActorCritics,
  s: tf.Tensor2D,
  a: tf.Tensor2D,
  lambda: number | null,
  box: { settings: BoxSettings; mu: tf.Tensor2D } | null = null,
): tf.Scalar {
  const pi = actor(mu, s);
  const qPi = q1Of(Q1, s, pi);
  const loss = lambda === null ? tf.neg(tf.mean(qPi)) : tf.add(tf.mul(-lambda, tf.mean(qPi)), tf.mean(tf.squaredDifference(pi, a)));
  // box-aware (behaviorBox.ts): + w_π·mean Σ_j relu(|π_j(s) − μ_j(s)| − h_j)²
  return (box ? tf.add(loss, boxActorPenalty(pi, box.mu, box.settings)) : loss) as tf.Scalar;
}

/** TD3+BC's λ = α / mean|Q1(s, μ(s))| for the current weights. */
export function td3bcLambda(mu: Mlp, Q1: Mlp | Mlp[] | Td3ActorCritics, s: tf.Tensor2D, alpha: number): number {
  const meanAbsQ = tf.tidy(() => tf.mean(tf.abs(q1Of(Q1, s, actor(mu, s)))).dataSync()[0]);
  return alpha / Math.max(meanAbsQ, 1e-8);
}

export class Td3 implements Algorithm {
  readonly name: 'td3' | 'td3bc';
  readonly nextStateRepeats = 0;
  readonly nets: Td3Networks | Td3ResponseNetworks;
  private readonly optMu: Adam;
  private readonly optQ: Adam;
  private steps = 0;
  private box: BoxSettings | null = null;

  constructor(
    readonly stateDim: number,
    readonly actionDim: number,
    readonly cfg: Td3Config,
    rng: Rng,
    /** TD3+BC's α; null = plain TD3 */
    readonly alpha: number | null,
  ) {
    this.name = alpha === null ? 'td3' : 'td3bc';
    checkEnsemble(cfg);
    const mu = createMlp([stateDim, ...cfg.actorHidden, actionDim], rng);
    if (cfg.responses) {
      const Q = createResponseTwinCritic(stateDim, actionDim, cfg.criticHidden, cfg.responses.map((r) => r.name), cfg.responseCritic, rng);
      this.nets = { mu, muTarget: cloneMlp(mu), Q, QTarget: cloneResponseTwinCritic(Q) };
    } else {
      const Q = createTwinCritic(stateDim, actionDim, cfg.criticHidden, rng, cfg.critics.count);
      this.nets = { mu, muTarget: cloneMlp(mu), Q, QTarget: cloneTwinCritic(Q) };
    }
    const adam = { beta1: cfg.adamBeta1, beta2: cfg.adamBeta2, eps: cfg.adamEps };
    this.optMu = new Adam(mlpVariables('mu', mu), { ...adam, lr: cfg.lrActor });
    this.optQ = new Adam(this.criticVariables('Q'), { ...adam, lr: cfg.lrCritic });
  }

  /** What q1Of needs of the networks: per-response Q1s, or the critics and their ensemble config. */
  private actorCritics(): Mlp[] | Td3ActorCritics {
    const n = this.nets;
    return isResponseNetworks(n) ? n.Q.q1 : { Q: n.Q, critics: this.cfg.critics };
  }

  private criticVariables(which: 'Q' | 'QTarget'): [string, tf.Variable][] {
    const n = this.nets;
    return isResponseNetworks(n) ? responseTwinCriticVariables(which, n[which]) : twinCriticVariables(which, n[which]);
  }

  step(mb: Minibatch, rng: Rng): Record<string, number> {
    const { cfg, nets } = this;
    this.steps += 1;
    const updateActor = this.steps % cfg.policyDelay === 0;
    const responses = isResponseNetworks(nets) ? cfg.responses! : null;
    const out = tf.tidy(() => {
      const noise = normal(rng, mb.s.shape[0], this.actionDim);
      if (this.box && isResponseNetworks(nets)) throw new Error('behaviorBox with per-response critics is not supported');
      const y = isResponseNetworks(nets) ? computeTd3ResponseTargets(nets, mb, noise, cfg) : computeTd3Target(nets, mb, noise, cfg, drawSubset(cfg.critics, rng), this.box);
      let q1!: tf.Tensor2D;
      const lossQ = this.optQ.minimize(() => {
        const t = isResponseNetworks(nets) ? computeResponseCriticLoss(nets.Q, mb.s, mb.a, y, mb.mask) : computeCriticLoss(nets.Q, mb.s, mb.a, y, mb.mask);
        q1 = tf.keep(t.q1);
        return t.loss;
      });
      let lossMu: tf.Scalar = tf.scalar(0);
      if (updateActor) {
        const lambda = this.alpha === null ? null : td3bcLambda(nets.mu, this.actorCritics(), mb.s, this.alpha);
        const box = this.box ? { settings: this.box, mu: boxMuOf(mb) } : null;
        lossMu = this.optMu.minimize(() => computeTd3ActorLoss(nets.mu, this.actorCritics(), mb.s, mb.a, lambda, box));
      }
      if (this.steps % cfg.targetUpdateInterval === 0) {
        const pairs = (a: [string, tf.Variable][], b: [string, tf.Variable][]) => a.map(([, x], i): [tf.Variable, tf.Variable] => [x, b[i][1]]);
        softUpdate(pairs(mlpVariables('mu', nets.mu), mlpVariables('mu', nets.muTarget)), cfg.eta);
        softUpdate(pairs(this.criticVariables('Q'), this.criticVariables('QTarget')), cfg.eta);
      }
      const { mean, variance } = tf.moments(tf.sum(q1, 1)); // the one column, or Σ_i Q1_i
      const parts: tf.Tensor[] = [tf.stack([lossQ, lossMu, mean, tf.sqrt(variance), tf.mean(tf.sum(y, 1))])];
      if (responses) {
        const w = tf.tensor1d(responses.map((r) => r.weight));
        parts.push(tf.div(tf.mean(q1, 0), w), tf.div(tf.mean(y, 0), w));
      }
      const stats = parts.length === 1 ? parts[0] : tf.concat(parts);
      q1.dispose();
      return stats;
    });
    const v = out.dataSync();
    out.dispose();
    const r: Record<string, number> = { criticLoss: v[0], qMean: v[2], qStd: v[3], targetMean: v[4] };
    if (updateActor) r.actorLoss = v[1];
    responses?.forEach((x, i) => {
      r[`qMean.${x.name}`] = v[5 + i];
      r[`targetMean.${x.name}`] = v[5 + responses.length + i];
    });
    return r;
  }

  /** Box-aware training (config behaviorBox): penalties on the actor and on the TD targets' actions. */
  setBehaviorBox(box: BoxSettings): void {
    this.box = box;
  }

  act(states: Float32Array, count: number): Float32Array {
    return tf.tidy(() => read(actor(this.nets.mu, tf.tensor2d(states, [count, this.stateDim]))));
  }

  q1(states: Float32Array, actions: Float32Array, count: number): Float32Array {
    return tf.tidy(() => read(q1Of(this.actorCritics(), tf.tensor2d(states, [count, this.stateDim]), tf.tensor2d(actions, [count, this.actionDim]))));
  }

  /** Q1_i(s, a) per response, [count × R] in the critics' units (κ·w_i per unit of response i); null without responses. */
  qResponses(states: Float32Array, actions: Float32Array, count: number): Float32Array | null {
    const n = this.nets;
    if (!isResponseNetworks(n)) return null;
    return tf.tidy(() => read(qResponses(n.Q.q1, tf.tensor2d(states, [count, this.stateDim]), tf.tensor2d(actions, [count, this.actionDim]))));
  }

  variables(): [string, tf.Variable][] {
    const { mu, muTarget } = this.nets;
    return [
      ...mlpVariables('mu', mu),
      ...mlpVariables('muTarget', muTarget),
      ...this.criticVariables('Q'),
      ...this.criticVariables('QTarget'),
      ...this.optMu.slots('mu'),
      ...this.optQ.slots('Q'),
    ];
  }

  counters(): Record<string, number> {
    return { steps: this.steps, adamMu: this.optMu.t, adamQ: this.optQ.t };
  }

  setCounters(c: Record<string, number>): void {
    this.steps = c.steps;
    this.optMu.t = c.adamMu;
    this.optQ.t = c.adamQ;
  }

  policyNetworks(): PolicyNetworks {
    return { kind: 'deterministic', actor: mlpSpec(this.nets.mu, 'tanh') };
  }

  dispose(): void {
    const n = this.nets;
    disposeMlp(n.mu);
    disposeMlp(n.muTarget);
    if (isResponseNetworks(n)) {
      disposeResponseTwinCritic(n.Q);
      disposeResponseTwinCritic(n.QTarget);
    } else {
      disposeTwinCritic(n.Q);
      disposeTwinCritic(n.QTarget);
    }
    this.optMu.dispose();
    this.optQ.dispose();
  }
}
