/**
 * Two-Stage Constrained Actor-Critic (TSCAC; Cai et al., "Constrained Reinforcement Learning for Short
 * Video Recommendation", Kuaishou), offline (the paper's Appendix D), for continuous α with diagonal
 * Gaussian policies (tscacGaussian.ts). README §7.2 maps every piece to the paper's equations.
 *
 * Critics (Eqs. 2, 4): one state-value network V_k per response — the main one (the logged reward r, or
 * the `responses` entry named `mainResponse`) and each auxiliary i — on its own n-step column and γ_k,
 * the trainer's per-response columns (README §7): y_k = r_k + γ_k^m(1 − done)·V′_k(s′). On logged data
 * they evaluate the behavior policy (Appendix D: the critics "share the same offline dataset").
 * Advantages A_k = r_k + γ_k^m(1 − done)·V_k(s′) − V_k(s) (Eq. 3), divided by their sd in the minibatch.
 *
 * Stage one (steps 1…stageOneSteps): every V_k, and per auxiliary i the actor π_i by advantage-weighted
 * maximum likelihood of the logged actions, weight exp(Â_i/τ) (Eq. 14 with the AWAC weight, README §7.2);
 * the main actor π_1 meanwhile learns the behavior by plain maximum likelihood (a warm start and, frozen at
 * the stage boundary, the fitted π_β where the log has no action_logp).
 *
 * Stage two (later steps): π_i frozen, V_1 trained on, π_1 by the paper's actor loss Eq. (15):
 *   maximise E_β[ Π_i (π_i(a|s)/π_β(a|s))^{λ_i/Λ} · exp(Â_1/Λ) · log π_1(a|s) ],  Λ = Σ_j λ_j,
 * the projection onto π_1 of the Lagrangian optimum Eq. (6)/(11) of "max E[A_1] s.t. KL(π‖π_i) ≤ ε_i".
 * With `klBound` the multipliers follow dual ascent on the Lagrangian Eq. (9), in log space:
 * log λ_i += lambdaLr·(KL̄_i − ε_i)/ε_i, KL̄_i = mean over the minibatch's states of KL(π_1(·|s) ‖ π_i(·|s))
 * in closed form; without it they stay at lambdaInit (the paper's experiments fix λ).
 *
 * The served α is the main policy's mean μ_1(s) (a deterministic policy: `kind: 'deterministic'`).
 */
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors/index.ts';
import { Adam } from './adam.ts';
import { read, type Algorithm, type Minibatch, type PolicyNetworks } from './algorithm.ts';
import { softUpdate } from './bcq.ts';
import type { TscacConfig } from './config.ts';
import { cloneMlp, createMlp, disposeMlp, mlp, mlpVariables, type Mlp } from './networks/mlp.ts';
import type { Rng } from './rng.ts';
import {
  createGaussianActor,
  effectiveSampleFraction,
  gaussianKl,
  gaussianLogProb,
  gaussianMeanSpec,
  gaussianParams,
  normalizeLogWeights,
  stageTwoWeights,
  type GaussianParams,
  type LogStdRange,
} from './tscacGaussian.ts';

/** The Lagrange multipliers stay in the range of the paper's sweep (§5.3: 1e-8 … 1e4). */
export const LAMBDA_MIN = 1e-8;
export const LAMBDA_MAX = 1e4;

/** What the trainer tells the algorithm about the data once, before the first step. */
export interface TscacDataSummary {
  /** [n] main reward column (κ·r, n-step) as the trainer prepared it */
  r: Float32Array;
  /** per-response columns [n × R] */
  responses: { R: number; r: Float32Array } | null;
  /** the logged behavior log-densities (null unless every row has one) */
  logpB: Float32Array | null;
  /** steps the run asks for in all */
  steps: number;
}

export class Tscac implements Algorithm {
  readonly name = 'tscac' as const;
  readonly nextStateRepeats = 0;
  /** response names of the critic columns: [main, auxiliaries…] ('(reward)' = the logged r) */
  readonly columns: string[];
  /** auxiliary names, in `responses` order without the main one */
  readonly auxNames: string[];
  /** index of the main response in `responses`, or −1 for the logged reward */
  private readonly mainIdx: number;
  /** indices in `responses` of the auxiliaries */
  private readonly auxIdx: number[];
  /** V networks: K separate MLPs of one output, or one MLP of K outputs (multihead) */
  readonly V: Mlp[];
  readonly VTarget: Mlp[];
  readonly aux: Mlp[];
  readonly main: Mlp;
  /** the fitted behavior density (a frozen copy of the stage-one π_1) */
  readonly behavior: Mlp;
  /** log λ_i, [M] */
  readonly logLambda: tf.Variable;
  private readonly optV: Adam;
  private readonly optAux: Adam;
  private readonly optMain: Adam;
  private readonly range: LogStdRange;
  private readonly klBound: number[] | null;
  /** per-column divisor of the critics' targets (mean |r_k| of the data; 1 until `prepare`) */
  private scale: number[];
  private steps = 0;

  constructor(
    readonly stateDim: number,
    readonly actionDim: number,
    readonly cfg: TscacConfig,
    rng: Rng,
  ) {
    const responses = cfg.responses;
    const names = responses.map((r) => r.name);
    this.mainIdx = cfg.mainResponse === null ? -1 : names.indexOf(cfg.mainResponse);
    if (cfg.mainResponse !== null && this.mainIdx < 0) {
      throw new InputError(`config: mainResponse: '${cfg.mainResponse}' is not one of the responses (${names.join(', ')})`, { field: 'mainResponse' });
    }
    this.auxIdx = names.map((_, i) => i).filter((i) => i !== this.mainIdx);
    if (this.auxIdx.length === 0) throw new InputError('config: responses: TSCAC needs at least one auxiliary response besides the main one', { field: 'responses' });
    this.auxNames = this.auxIdx.map((i) => names[i]);
    this.columns = [this.mainIdx < 0 ? '(reward)' : names[this.mainIdx], ...this.auxNames];
    const M = this.auxIdx.length;
    const K = M + 1;
    if (Array.isArray(cfg.klBound) && cfg.klBound.length !== M) {
      throw new InputError(`config: klBound: ${cfg.klBound.length} bounds for ${M} auxiliary responses (${this.auxNames.join(', ')})`, { field: 'klBound' });
    }
    this.klBound = cfg.klBound === null ? null : Array.isArray(cfg.klBound) ? [...cfg.klBound] : new Array<number>(M).fill(cfg.klBound);
    if (!(cfg.policyLogStdMin < cfg.policyLogStdMax)) throw new InputError('config: policyLogStdMin must be below policyLogStdMax', { field: 'policyLogStdMin' });
    this.range = { lo: cfg.policyLogStdMin, hi: cfg.policyLogStdMax };
    this.scale = new Array<number>(K).fill(1);

    const vSizes = (out: number) => [stateDim, ...cfg.criticHidden, out];
    this.V = cfg.responseCritic === 'multihead' ? [createMlp(vSizes(K), rng)] : this.columns.map(() => createMlp(vSizes(1), rng));
    this.VTarget = this.V.map(cloneMlp);
    this.aux = this.auxNames.map(() => createGaussianActor(stateDim, actionDim, cfg.actorHidden, rng));
    this.main = createGaussianActor(stateDim, actionDim, cfg.actorHidden, rng);
    this.behavior = cloneMlp(this.main);
    const l0 = Math.log(Math.min(Math.max(cfg.lambdaInit, LAMBDA_MIN), LAMBDA_MAX));
    this.logLambda = tf.tidy(() => tf.variable(tf.fill([M], l0), false));
    const adam = { beta1: cfg.adamBeta1, beta2: cfg.adamBeta2, eps: cfg.adamEps };
    this.optV = new Adam(this.vVariables('V', this.V), { ...adam, lr: cfg.lrCritic });
    this.optAux = new Adam(this.auxVariables(), { ...adam, lr: cfg.lrActor });
    this.optMain = new Adam(mlpVariables('pi.main', this.main), { ...adam, lr: cfg.lrActor });
  }

  /** Sets the critics' target scales from the data and checks the run is long enough for stage two. */
  prepare(d: TscacDataSummary): void {
    if (d.steps <= this.cfg.stageOneSteps) {
      throw new InputError(`config: steps (${d.steps}) must exceed stageOneSteps (${this.cfg.stageOneSteps}): TSCAC's main policy is learned in stage two`, { field: 'stageOneSteps' });
    }
    if (this.cfg.behaviorDensity === 'logged' && !d.logpB) {
      throw new InputError('config: behaviorDensity: logged needs a finite action_logp on every training row (auto falls back to the fitted density)', { field: 'behaviorDensity' });
    }
    const meanAbs = (col: (t: number) => number, n: number) => {
      let s = 0;
      for (let t = 0; t < n; t++) s += Math.abs(col(t));
      const m = s / Math.max(n, 1);
      return m > 0 && Number.isFinite(m) ? m : 1;
    };
    const n = d.r.length;
    const R = d.responses?.R ?? 0;
    const colOf = (i: number) => (t: number) => d.responses!.r[t * R + i];
    this.scale = [this.mainIdx < 0 ? meanAbs((t) => d.r[t], n) : meanAbs(colOf(this.mainIdx), n), ...this.auxIdx.map((i) => meanAbs(colOf(i), n))];
  }

  /** The current Lagrange multipliers λ_i, one per auxiliary. */
  lambdas(): number[] {
    return Array.from(this.logLambda.dataSync(), Math.exp);
  }

  /** The critics' target scales (per column). */
  targetScales(): number[] {
    return [...this.scale];
  }

  /** Which stage the next step runs (1 or 2). */
  get stage(): 1 | 2 {
    return this.steps < this.cfg.stageOneSteps ? 1 : 2;
  }

  private vVariables(prefix: string, nets: Mlp[]): [string, tf.Variable][] {
    return nets.length === 1 && this.cfg.responseCritic === 'multihead'
      ? mlpVariables(prefix, nets[0])
      : nets.flatMap((n, k) => mlpVariables(`${prefix}.${k === 0 ? 'main' : `aux.${this.auxNames[k - 1]}`}`, n));
  }

  private auxVariables(): [string, tf.Variable][] {
    return this.aux.flatMap((n, i) => mlpVariables(`pi.aux.${this.auxNames[i]}`, n));
  }

  /** V_k(s) for the first `cols` columns, [B, cols], in scaled units. */
  private values(nets: Mlp[], s: tf.Tensor2D, cols: number): tf.Tensor2D {
    if (nets.length === 1) {
      const v = mlp(nets[0], s);
      return cols === v.shape[1] ? v : (tf.slice(v, [0, 0], [s.shape[0], cols]) as tf.Tensor2D);
    }
    const out = nets.slice(0, cols).map((n) => mlp(n, s));
    return out.length === 1 ? out[0] : (tf.concat(out, 1) as tf.Tensor2D);
  }

  /** The critics' rewards and bootstrap weights, [B, K] each, divided by the per-column scale. */
  private columnsOf(mb: Minibatch): { r: tf.Tensor2D; discount: tf.Tensor2D } {
    if (!mb.rR || !mb.discountR) throw new Error('TSCAC needs the per-response reward and discount columns (rR, discountR)');
    const gather = (x: tf.Tensor2D, idx: number[]) => tf.gather(x, tf.tensor1d(idx, 'int32'), 1) as tf.Tensor2D;
    const mainR = this.mainIdx < 0 ? mb.r : gather(mb.rR, [this.mainIdx]);
    const mainD = this.mainIdx < 0 ? (mb.discount ?? tf.mul(this.cfg.gamma, mb.notDone)) : gather(mb.discountR, [this.mainIdx]);
    const r = tf.concat([mainR, gather(mb.rR, this.auxIdx)], 1);
    const discount = tf.concat([mainD as tf.Tensor2D, gather(mb.discountR, this.auxIdx)], 1) as tf.Tensor2D;
    return { r: tf.div(r, tf.tensor1d(this.scale)) as tf.Tensor2D, discount };
  }

  step(mb: Minibatch): Record<string, number> {
    const stage = this.stage;
    this.steps += 1;
    if (stage === 2 && this.steps === this.cfg.stageOneSteps + 1) this.freezeBehavior();
    const out = tf.tidy(() => {
      const cols = stage === 1 ? this.columns.length : 1;
      const all = this.columnsOf(mb);
      const r = stage === 1 ? all.r : (tf.slice(all.r, [0, 0], [-1, 1]) as tf.Tensor2D);
      const discount = stage === 1 ? all.discount : (tf.slice(all.discount, [0, 0], [-1, 1]) as tf.Tensor2D);
      // Advantages (Eq. 3) with the current critics, then the critics' TD step (Eqs. 2, 4).
      const v2 = this.values(this.V, mb.s2, cols);
      const adv = tf.sub(tf.add(r, tf.mul(discount, v2)), this.values(this.V, mb.s, cols)) as tf.Tensor2D;
      const y = tf.add(r, tf.mul(discount, this.values(this.VTarget, mb.s2, cols)));
      const rows = tf.maximum(tf.sum(mb.mask), 1);
      const lossV = this.optV.minimize(() => tf.div(tf.sum(tf.mul(mb.mask, tf.squaredDifference(this.values(this.V, mb.s, cols), y))), rows) as tf.Scalar);
      const advN = normalizeAdvantages(adv, mb.mask);
      const stats: tf.Tensor[] = [lossV, tf.mean(tf.slice(y, [0, 0], [-1, 1])).mul(this.scale[0])];
      if (stage === 1) {
        const lossAux = this.optAux.minimize(() => {
          let total: tf.Tensor = tf.scalar(0);
          this.aux.forEach((net, i) => {
            const w = normalizeLogWeights(tf.div(tf.slice(advN, [0, i + 1], [-1, 1]), this.cfg.advantageTemperature) as tf.Tensor2D, mb.mask, this.cfg.weightClip);
            const lp = gaussianLogProb(this.params(net, mb.s), mb.a);
            total = tf.add(total, tf.div(tf.neg(tf.sum(tf.mul(w, lp))), rows));
          });
          return total as tf.Scalar;
        });
        const lossMain = this.optMain.minimize(() => tf.neg(tf.mean(gaussianLogProb(this.params(this.main, mb.s), mb.a))) as tf.Scalar);
        stats.push(lossAux, lossMain);
      } else {
        const frozen = this.aux.map((n) => this.params(n, mb.s));
        const logPiAux = tf.concat(frozen.map((p) => gaussianLogProb(p, mb.a)), 1) as tf.Tensor2D;
        const logPiBeta = this.behaviorLogProb(mb);
        const lambda = tf.exp(this.logLambda) as tf.Tensor1D;
        const w = stageTwoWeights({ logPiAux, logPiBeta, adv: advN, lambda, mask: mb.mask, clip: this.cfg.weightClip });
        const kl = tf.concat(frozen.map((p) => tf.mean(gaussianKl(this.params(this.main, mb.s), p)).reshape([1])));
        const lossMain = this.optMain.minimize(() => tf.div(tf.neg(tf.sum(tf.mul(w, gaussianLogProb(this.params(this.main, mb.s), mb.a)))), rows) as tf.Scalar);
        if (this.klBound) {
          const eps = tf.tensor1d(this.klBound);
          const next = tf.add(this.logLambda, tf.mul(this.cfg.lambdaLr, tf.div(tf.sub(kl, eps), eps)));
          this.logLambda.assign(tf.clipByValue(next, Math.log(LAMBDA_MIN), Math.log(LAMBDA_MAX)) as tf.Tensor1D);
        }
        stats.push(lossMain, effectiveSampleFraction(w, mb.mask), kl, tf.exp(this.logLambda));
      }
      if (this.steps % this.cfg.targetUpdateInterval === 0) softUpdate(this.pairs(this.V, this.VTarget), this.cfg.eta);
      return tf.concat(stats.map((t) => t.reshape([-1])));
    });
    const v = out.dataSync();
    out.dispose();
    const res: Record<string, number> = { stage, criticLoss: v[0], targetMean: v[1] };
    if (stage === 1) {
      res.auxActorLoss = v[2];
      res.actorLoss = v[3];
    } else {
      const M = this.auxNames.length;
      res.actorLoss = v[2];
      res.weightEss = v[3];
      this.auxNames.forEach((name, i) => {
        res[`kl.${name}`] = v[4 + i];
        res[`lambda.${name}`] = v[4 + M + i];
      });
    }
    return res;
  }

  /** log π_β(a|s): the logged density (behaviorDensity logged, or auto with action_logp on every row), else the fitted one. */
  private behaviorLogProb(mb: Minibatch): tf.Tensor2D {
    const mode = this.cfg.behaviorDensity;
    if (mode === 'logged' && !mb.logpB) throw new InputError('config: behaviorDensity: logged needs action_logp on every training row', { field: 'behaviorDensity' });
    if (mode !== 'fitted' && mb.logpB) return mb.logpB;
    return gaussianLogProb(this.params(this.behavior, mb.s), mb.a);
  }

  /** End of stage one: π_β's fitted density is the behavior-cloned π_1 as it stands. */
  private freezeBehavior(): void {
    tf.tidy(() => this.pairs(this.main, this.behavior).forEach(([from, to]) => to.assign(from)));
  }

  private pairs(a: Mlp | Mlp[], b: Mlp | Mlp[]): [tf.Variable, tf.Variable][] {
    const va = (Array.isArray(a) ? a : [a]).flatMap((n) => mlpVariables('x', n));
    const vb = (Array.isArray(b) ? b : [b]).flatMap((n) => mlpVariables('x', n));
    return va.map(([, x], i): [tf.Variable, tf.Variable] => [x, vb[i][1]]);
  }

  params(net: Mlp, s: tf.Tensor2D): GaussianParams {
    return gaussianParams(net, s, this.actionDim, this.range);
  }

  /**
   * The Gaussian of one policy at `count` normalised states: 'main' (π_1), 'behavior' (fitted π_β) or an
   * auxiliary's name. Means and log σ as [count × A] arrays.
   */
  gaussian(which: string, states: Float32Array, count: number): { mean: Float32Array; logStd: Float32Array } {
    const i = this.auxNames.indexOf(which);
    const net = which === 'main' ? this.main : which === 'behavior' ? this.behavior : i >= 0 ? this.aux[i] : null;
    if (!net) throw new RangeError(`no policy '${which}' (main, behavior, ${this.auxNames.join(', ')})`);
    return tf.tidy(() => {
      const p = this.params(net, tf.tensor2d(states, [count, this.stateDim]));
      return { mean: read(p.mean), logStd: read(p.logStd) };
    });
  }

  /** The served α: the main policy's mean μ_1(s). */
  act(states: Float32Array, count: number): Float32Array {
    return tf.tidy(() => read(this.params(this.main, tf.tensor2d(states, [count, this.stateDim])).mean));
  }

  q1(): null {
    return null;
  }

  variables(): [string, tf.Variable][] {
    return [
      ...this.vVariables('V', this.V),
      ...this.vVariables('VTarget', this.VTarget),
      ...this.auxVariables(),
      ...mlpVariables('pi.main', this.main),
      ...mlpVariables('pi.behavior', this.behavior),
      ['lambda.log', this.logLambda],
      ...this.optV.slots('V'),
      ...this.optAux.slots('pi.aux'),
      ...this.optMain.slots('pi.main'),
    ];
  }

  counters(): Record<string, number> {
    return { steps: this.steps, adamV: this.optV.t, adamAux: this.optAux.t, adamMain: this.optMain.t };
  }

  setCounters(c: Record<string, number>): void {
    this.steps = c.steps;
    this.optV.t = c.adamV;
    this.optAux.t = c.adamAux;
    this.optMain.t = c.adamMain;
  }

  policyNetworks(): PolicyNetworks {
    return { kind: 'deterministic', actor: gaussianMeanSpec(this.main, this.actionDim) };
  }

  dispose(): void {
    for (const n of [...this.V, ...this.VTarget, ...this.aux, this.main, this.behavior]) disposeMlp(n);
    this.logLambda.dispose();
    this.optV.dispose();
    this.optAux.dispose();
    this.optMain.dispose();
  }
}

/** Each column of A divided by its sd over the rows that count (a constant shift cancels in the self-normalised weights); 0 where mask is 0. */
export function normalizeAdvantages(adv: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor2D {
  const rows = tf.maximum(tf.sum(mask), 1);
  const mean = tf.div(tf.sum(tf.mul(adv, mask), 0, true), rows);
  const sd = tf.sqrt(tf.div(tf.sum(tf.mul(tf.square(tf.sub(adv, mean)), mask), 0, true), rows));
  return tf.mul(tf.div(tf.sub(adv, mean), tf.maximum(sd, 1e-6)), mask) as tf.Tensor2D;
}
