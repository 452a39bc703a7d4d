/**
 * Implicit Q-Learning (Kostrikov, Nair & Levine 2021, "Offline Reinforcement Learning with Implicit
 * Q-Learning"): never queries the critics at actions outside the data. Per step, in the order of the
 * reference implementation (CORL's iql.py):
 *   1. the value V(s) by expectile regression onto min_j Q′_j(s, a) of the logged a (Eq. 5):
 *      L_V = mean |τ − 1(u < 0)|·u², u = min_j Q′_j(s, a) − V(s);
 *   2. the twin critics onto y = r + γ(1 − done)·V(s′) (Eq. 6; V before this step's update);
 *   3. the actor by advantage-weighted regression (Eq. 7): L_π = −mean exp(β·A)·log π(a|s), A = min_j
 *      Q′_j(s, a) − V(s) (V before this step's update), exp(β·A) capped at 100, π(·|s) a Gaussian with
 *      mean tanh(MLP(s)) and a learned state-independent log σ in [−20, 2] (CORL's GaussianPolicy).
 * The policy is the mean, tanh(MLP(s)) (deterministic, as IQL is evaluated).
 *
 * Defaults: the paper's AntMaze expectile τ = 0.9 and temperature β = 10 (its MuJoCo 0.7 and 3 gave
 * +1.2–1.4% over the tuned constant here against +3.3–3.5%: src/rl/README.md §11), learning rates 3e-4
 * for all three. Deviations (shared with this repo's other learners, src/rl/README.md §3): γ, n-step
 * targets, reward scale and the target networks' schedule (η every L steps, not τ = 0.005 every step)
 * come from the common fields; the critics' loss sums the twins (CORL averages them), with truncated rows
 * masked out of it; the actor's learning rate has no cosine schedule.
 */
import * as tf from '@tensorflow/tfjs';
import { Adam } from '../adam.ts';
import { read, type Algorithm, type Minibatch, type PolicyNetworks } from '../algorithm.ts';
import { computeCriticLoss, softUpdate } from '../bcq.ts';
import { boxActorPenalty, boxExcess, boxMuOf, type BoxSettings } from '../behaviorBox.ts';
import type { IqlConfig } from '../config.ts';
import { cloneTwinCritic, createTwinCritic, disposeTwinCritic, q, twinCriticVariables, type TwinCritic } from '../networks/critic.ts';
import { createMlp, disposeMlp, mlp, mlpSpec, mlpVariables, type Mlp } from '../networks/mlp.ts';
import type { Rng } from '../rng.ts';

/** exp(β·A) is capped here (the reference's EXP_ADV_MAX) */
export const IQL_WEIGHT_MAX = 100;
const LOG_STD_MIN = -20;
const LOG_STD_MAX = 2;

export interface IqlNetworks {
  /** the actor's mean, tanh(MLP(s)) */
  mu: Mlp;
  /** the actor's log σ, one per action coordinate (state-independent) */
  logStd: tf.Variable;
  V: Mlp;
  Q: TwinCritic;
  QTarget: TwinCritic;
}

/** Eq. (5)'s expectile loss: mean |τ − 1(u < 0)|·u² over the rows, u = target − prediction. */
export function expectileLoss(u: tf.Tensor, expectile: number): tf.Scalar {
  // |τ − 1(u < 0)| = τ + (1 − 2τ)·1(u < 0); tf.step's gradient is zero, as the indicator's is
  const weight = tf.add(expectile, tf.mul(1 - 2 * expectile, tf.step(tf.neg(u))));
  return tf.mean(tf.mul(weight, tf.square(u))) as tf.Scalar;
}

/** min_j Q′_j(s, a) of the logged actions. */
export function targetQ(QTarget: TwinCritic, s: tf.Tensor2D, a: tf.Tensor2D): tf.Tensor2D {
  return tf.minimum(q(QTarget.q1, s, a), q(QTarget.q2, s, a));
}

/** Eq. (6): y = r + γ(1 − done)·V(s′), or with n-step rows r + γ^m(1 − done)·V(s′) (Minibatch.discount). */
export function computeIqlTarget(V: Mlp, mb: Minibatch, gamma: number): tf.Tensor2D {
  return tf.tidy(() => {
    const next = mlp(V, mb.s2);
    if (mb.discount) return tf.add(mb.r, tf.mul(mb.discount, next));
    return tf.add(mb.r, tf.mul(gamma, tf.mul(mb.notDone, next)));
  });
}

/** log N(a; μ, σ²) summed over the action coordinates, per row ([B, 1]). */
export function gaussianLogProb(a: tf.Tensor2D, mean: tf.Tensor2D, logStd: tf.Tensor1D): tf.Tensor2D {
  const clipped = tf.clipByValue(logStd, LOG_STD_MIN, LOG_STD_MAX);
  const z = tf.div(tf.sub(a, mean), tf.exp(clipped));
  const perDim = tf.neg(tf.add(tf.add(tf.mul(0.5, tf.square(z)), clipped), 0.5 * Math.log(2 * Math.PI)));
  return tf.sum(perDim, 1, true) as tf.Tensor2D;
}

/** Eq. (7): −mean w·log π(a|s), w = min(exp(β·A), 100) a constant of the step ([B, 1]). */
export function computeIqlActorLoss(mu: Mlp, logStd: tf.Variable, s: tf.Tensor2D, a: tf.Tensor2D, weight: tf.Tensor2D): tf.Scalar {
  return tf.neg(tf.mean(tf.mul(weight, gaussianLogProb(a, mlp(mu, s, 'tanh'), logStd as tf.Tensor1D)))) as tf.Scalar;
}

/** The advantage weights of Eq. (7): min(exp(β·A), IQL_WEIGHT_MAX). */
export function advantageWeights(adv: tf.Tensor2D, temperature: number): tf.Tensor2D {
  return tf.minimum(tf.exp(tf.mul(temperature, adv)), IQL_WEIGHT_MAX) as tf.Tensor2D;
}

export class Iql implements Algorithm {
  readonly name = 'iql' as const;
  readonly nextStateRepeats = 0;
  readonly nets: IqlNetworks;
  private readonly optV: Adam;
  private readonly optQ: Adam;
  private readonly optPi: Adam;
  private steps = 0;
  private box: BoxSettings | null = null;

  constructor(
    readonly stateDim: number,
    readonly actionDim: number,
    readonly cfg: IqlConfig,
    rng: Rng,
  ) {
    const mu = createMlp([stateDim, ...cfg.actorHidden, actionDim], rng);
    const logStd = tf.tidy(() => tf.variable(tf.zeros([actionDim]))); // tidy: the initial value goes, the variable stays
    const V = createMlp([stateDim, ...cfg.valueHidden, 1], rng);
    const Q = createTwinCritic(stateDim, actionDim, cfg.criticHidden, rng);
    this.nets = { mu, logStd, V, Q, QTarget: cloneTwinCritic(Q) };
    const adam = { beta1: cfg.adamBeta1, beta2: cfg.adamBeta2, eps: cfg.adamEps };
    this.optV = new Adam(mlpVariables('V', V), { ...adam, lr: cfg.lrValue });
    this.optQ = new Adam(twinCriticVariables('Q', Q), { ...adam, lr: cfg.lrCritic });
    this.optPi = new Adam([...mlpVariables('mu', mu), ['logStd', logStd]], { ...adam, lr: cfg.lrActor });
  }

  step(mb: Minibatch): Record<string, number> {
    const { cfg, nets } = this;
    this.steps += 1;
    const out = tf.tidy(() => {
      // V before this step's update gives both the critics' target and the advantages (as the reference)
      const y = computeIqlTarget(nets.V, mb, cfg.gamma);
      const qT = targetQ(nets.QTarget, mb.s, mb.a);
      const adv = tf.sub(qT, mlp(nets.V, mb.s)) as tf.Tensor2D;
      const lossV = this.optV.minimize(() => expectileLoss(tf.sub(qT, mlp(nets.V, mb.s)), cfg.expectile));
      let q1!: tf.Tensor2D;
      const lossQ = this.optQ.minimize(() => {
        const t = computeCriticLoss(nets.Q, mb.s, mb.a, y, mb.mask);
        q1 = tf.keep(t.q1);
        return t.loss;
      });
      const w = advantageWeights(adv, cfg.temperature);
      const box = this.box;
      // box-aware (behaviorBox.ts): the policy's mean is also kept inside [μ(s) − h, μ(s) + h]
      const lossPi = this.optPi.minimize(() => {
        const l = computeIqlActorLoss(nets.mu, nets.logStd, mb.s, mb.a, w);
        return box ? (tf.add(l, boxActorPenalty(mlp(nets.mu, mb.s, 'tanh'), boxMuOf(mb), box)) as tf.Scalar) : l;
      });
      if (this.steps % cfg.targetUpdateInterval === 0) {
        const pairs = (a: [string, tf.Variable][], b: [string, tf.Variable][]) => a.map(([, x], i): [tf.Variable, tf.Variable] => [x, b[i][1]]);
        softUpdate(pairs(twinCriticVariables('Q', nets.Q), twinCriticVariables('Q', nets.QTarget)), cfg.eta);
      }
      const { mean, variance } = tf.moments(q1);
      const parts = [lossV, lossQ, lossPi, mean, tf.sqrt(variance), tf.mean(y), tf.mean(adv), tf.mean(w)];
      if (box) parts.push(tf.mean(boxExcess(mlp(nets.mu, mb.s, 'tanh'), boxMuOf(mb), box.half)));
      const stats = tf.stack(parts);
      q1.dispose();
      return stats;
    });
    const v = out.dataSync();
    out.dispose();
    const r: Record<string, number> = { valueLoss: v[0], criticLoss: v[1], actorLoss: v[2], qMean: v[3], qStd: v[4], targetMean: v[5], advantageMean: v[6], weightMean: v[7] };
    if (this.box) r.boxExcess = v[8];
    return r;
  }

  /** Box-aware training (config behaviorBox): the actor penalty only — IQL's targets use V(s′), no target action. */
  setBehaviorBox(box: BoxSettings): void {
    this.box = box;
  }

  act(states: Float32Array, count: number): Float32Array {
    return tf.tidy(() => read(mlp(this.nets.mu, tf.tensor2d(states, [count, this.stateDim]), 'tanh')));
  }

  q1(states: Float32Array, actions: Float32Array, count: number): Float32Array {
    return tf.tidy(() => read(q(this.nets.Q.q1, tf.tensor2d(states, [count, this.stateDim]), tf.tensor2d(actions, [count, this.actionDim]))));
  }

  variables(): [string, tf.Variable][] {
    const { mu, logStd, V, Q, QTarget } = this.nets;
    return [
      ...mlpVariables('mu', mu),
      ['logStd', logStd],
      ...mlpVariables('V', V),
      ...twinCriticVariables('Q', Q),
      ...twinCriticVariables('QTarget', QTarget),
      ...this.optV.slots('V'),
      ...this.optQ.slots('Q'),
      ...this.optPi.slots('pi'),
    ];
  }

  counters(): Record<string, number> {
    return { steps: this.steps, adamV: this.optV.t, adamQ: this.optQ.t, adamPi: this.optPi.t };
  }

  setCounters(c: Record<string, number>): void {
    this.steps = c.steps;
    this.optV.t = c.adamV;
    this.optQ.t = c.adamQ;
    this.optPi.t = c.adamPi;
  }

  policyNetworks(): PolicyNetworks {
    return { kind: 'deterministic', actor: mlpSpec(this.nets.mu, 'tanh') };
  }

  dispose(): void {
    const n = this.nets;
    disposeMlp(n.mu);
    n.logStd.dispose();
    disposeMlp(n.V);
    disposeTwinCritic(n.Q);
    disposeTwinCritic(n.QTarget);
    this.optV.dispose();
    this.optQ.dispose();
    this.optPi.dispose();
  }
}
