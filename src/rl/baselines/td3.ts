/**
 * TD3 (Fujimoto et al. 2018) trained offline without any batch constraint — the paper's example of
 * extrapolation error: its critics are queried at actions the data never shows, their estimates run
 * away and the actor follows them out of the data — and, with `alpha`, TD3+BC (Fujimoto & Gu 2021),
 * which adds a behavior-cloning term to the actor: −λ·Q1(s, μ(s)) + (μ(s) − a)², λ = α / mean|Q1|.
 * Deviation from both references: target networks follow this repo's schedule (η every L steps,
 * the paper's BCQ setting) instead of τ = 0.005 after every actor update, so all algorithms share it.
 */
import * as tf from '@tensorflow/tfjs';
import { Adam } from '../adam.ts';
import { normal, read, type Algorithm, type Minibatch, type PolicyNetworks } from '../algorithm.ts';
import { computeCriticLoss, softUpdate } from '../bcq.ts';
import type { Td3Config } from '../config.ts';
import { cloneTwinCritic, createTwinCritic, disposeTwinCritic, q, twinCriticVariables, type TwinCritic } from '../networks/critic.ts';
import { cloneMlp, createMlp, disposeMlp, mlp, mlpSpec, mlpVariables, type Mlp } from '../networks/mlp.ts';
import type { Rng } from '../rng.ts';

export interface Td3Networks {
  mu: Mlp;
  muTarget: Mlp;
  Q: TwinCritic;
  QTarget: TwinCritic;
}

/** μ(s) = tanh(MLP(s)): an action in the normalised box. */
export function actor(mu: Mlp, s: tf.Tensor2D): tf.Tensor2D {
  return mlp(mu, s, 'tanh');
}

/** TD3 target: y = r + γ(1 − done)·min_j Q′_j(s′, clip(μ′(s′) + clip(σε, −c, c), −1, 1)) (n-step rows: γ^m(1 − done), see Minibatch.discount). */
export function computeTd3Target(nets: Td3Networks, mb: Minibatch, noise: tf.Tensor2D, cfg: Td3Config): tf.Tensor2D {
  return tf.tidy(() => {
    const smoothing = tf.clipByValue(tf.mul(noise, cfg.policyNoise), -cfg.noiseClip, cfg.noiseClip);
    const aNext = tf.clipByValue(tf.add(actor(nets.muTarget, mb.s2), smoothing), -1, 1) as tf.Tensor2D;
    const nextQ = tf.minimum(q(nets.QTarget.q1, mb.s2, aNext), q(nets.QTarget.q2, mb.s2, aNext));
    if (mb.discount) return tf.add(mb.r, tf.mul(mb.discount, nextQ)); // n-step rows: γ^m·(1 − done)
    return tf.add(mb.r, tf.mul(cfg.gamma, tf.mul(mb.notDone, nextQ)));
  });
}

/**
 * TD3: −mean Q1(s, μ(s)); TD3+BC: −λ·mean Q1(s, μ(s)) + mean (μ(s) − a)², where λ = α / mean|Q1(s, μ(s))|
 * is a constant of the step (computed by the caller with the same weights: no gradient flows through it).
 */
export function computeTd3ActorLoss(mu: Mlp, Q1: Mlp, s: tf.Tensor2D, a: tf.Tensor2D, lambda: number | null): tf.Scalar {
  const pi = actor(mu, s);
  const qPi = q(Q1, s, pi);
  if (lambda === null) return tf.neg(tf.mean(qPi)) as tf.Scalar;
  return tf.add(tf.mul(-lambda, tf.mean(qPi)), tf.mean(tf.squaredDifference(pi, a))) as tf.Scalar;
}

/** TD3+BC's λ = α / mean|Q1(s, μ(s))| for the current weights. */
export function td3bcLambda(mu: Mlp, Q1: Mlp, s: tf.Tensor2D, alpha: number): number {
  const meanAbsQ = tf.tidy(() => tf.mean(tf.abs(q(Q1, s, actor(mu, s)))).dataSync()[0]);
  return alpha / Math.max(meanAbsQ, 1e-8);
}

export class Td3 implements Algorithm {
  readonly name: 'td3' | 'td3bc';
  readonly nextStateRepeats = 0;
  readonly nets: Td3Networks;
  private readonly optMu: Adam;
  private readonly optQ: Adam;
  private steps = 0;

  constructor(
    readonly stateDim: number,
    readonly actionDim: number,
    readonly cfg: Td3Config,
    rng: Rng,
    /** TD3+BC's α; null = plain TD3 */
    readonly alpha: number | null,
  ) {
    this.name = alpha === null ? 'td3' : 'td3bc';
    const mu = createMlp([stateDim, ...cfg.actorHidden, actionDim], rng);
    const Q = createTwinCritic(stateDim, actionDim, cfg.criticHidden, rng);
    this.nets = { mu, muTarget: cloneMlp(mu), Q, QTarget: cloneTwinCritic(Q) };
    const adam = { beta1: cfg.adamBeta1, beta2: cfg.adamBeta2, eps: cfg.adamEps };
    this.optMu = new Adam(mlpVariables('mu', mu), { ...adam, lr: cfg.lrActor });
    this.optQ = new Adam(twinCriticVariables('Q', Q), { ...adam, lr: cfg.lrCritic });
  }

  step(mb: Minibatch, rng: Rng): Record<string, number> {
    const { cfg, nets } = this;
    this.steps += 1;
    const updateActor = this.steps % cfg.policyDelay === 0;
    const out = tf.tidy(() => {
      const y = computeTd3Target(nets, mb, normal(rng, mb.s.shape[0], this.actionDim), cfg);
      let q1!: tf.Tensor2D;
      const lossQ = this.optQ.minimize(() => {
        const t = computeCriticLoss(nets.Q, mb.s, mb.a, y, mb.mask);
        q1 = tf.keep(t.q1);
        return t.loss;
      });
      let lossMu: tf.Scalar = tf.scalar(0);
      if (updateActor) {
        const lambda = this.alpha === null ? null : td3bcLambda(nets.mu, nets.Q.q1, mb.s, this.alpha);
        lossMu = this.optMu.minimize(() => computeTd3ActorLoss(nets.mu, nets.Q.q1, mb.s, mb.a, lambda));
      }
      if (this.steps % cfg.targetUpdateInterval === 0) {
        const pairs = (a: [string, tf.Variable][], b: [string, tf.Variable][]) => a.map(([, x], i): [tf.Variable, tf.Variable] => [x, b[i][1]]);
        softUpdate(pairs(mlpVariables('mu', nets.mu), mlpVariables('mu', nets.muTarget)), cfg.eta);
        softUpdate(pairs(twinCriticVariables('Q', nets.Q), twinCriticVariables('Q', nets.QTarget)), cfg.eta);
      }
      const { mean, variance } = tf.moments(q1);
      const stats = tf.stack([lossQ, lossMu, mean, tf.sqrt(variance), tf.mean(y)]);
      q1.dispose();
      return stats;
    });
    const v = out.dataSync();
    out.dispose();
    const r: Record<string, number> = { criticLoss: v[0], qMean: v[2], qStd: v[3], targetMean: v[4] };
    if (updateActor) r.actorLoss = v[1];
    return r;
  }

  act(states: Float32Array, count: number): Float32Array {
    return tf.tidy(() => read(actor(this.nets.mu, tf.tensor2d(states, [count, this.stateDim]))));
  }

  q1(states: Float32Array, actions: Float32Array, count: number): Float32Array {
    return tf.tidy(() => read(q(this.nets.Q.q1, tf.tensor2d(states, [count, this.stateDim]), tf.tensor2d(actions, [count, this.actionDim]))));
  }

  variables(): [string, tf.Variable][] {
    const { mu, muTarget, Q, QTarget } = this.nets;
    return [
      ...mlpVariables('mu', mu),
      ...mlpVariables('muTarget', muTarget),
      ...twinCriticVariables('Q', Q),
      ...twinCriticVariables('QTarget', QTarget),
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
    const { mu, muTarget, Q, QTarget } = this.nets;
    disposeMlp(mu);
    disposeMlp(muTarget);
    disposeTwinCritic(Q);
    disposeTwinCritic(QTarget);
    this.optMu.dispose();
    this.optQ.dispose();
  }
}
