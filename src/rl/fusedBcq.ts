/**
 * BCQ's training step as one native call (native/blas/mtf_fused.c) on the native backend: the same
 * Algorithm 1 step as `Bcq.step`'s tfjs graph (the reference, kept: `train.fusedStep: false`), without
 * tfjs's ~400 kernel dispatches per step, which bound the speed at small widths (README, training speed).
 *
 * The weights stay in the tf.Variables — checkpoints, the policy, export and resume see one copy. The C
 * step updates the variables' own backing arrays in place. That is safe only for an array no other
 * tensor shares, so before each step every variable is checked: its array must be one this class made
 * and its backend reference count 1 (a clone shares the buffer; a restored checkpoint brings new
 * arrays); otherwise it gets a private copy first (`assign`, once).
 *
 * Eq. (7) needs s′ once per row here (the C step forms b + s′·W of each first layer once for the n
 * samples), so the minibatch skips building s′ repeated n times.
 *
 * The random draws are those of the tfjs path, from the same RNG in the same order (ε of Eq. 3, the n
 * latent draws of Eq. 7, the actor's latent draws), drawn in C by a port of rng.ts (the JS generator
 * cost 16% of a width-64 step), so both paths see the same numbers; their results agree to float
 * rounding (test/rl/fused.test.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { Adam } from './adam.ts';
import type { Minibatch } from './algorithm.ts';
import type { BcqConfig } from './config.ts';
import type { NativeBlas } from './native.ts';
import type { Mlp } from './networks/mlp.ts';
import type { TwinCritic } from './networks/critic.ts';
import type { Vae } from './networks/vae.ts';
import { ZIGGURAT_TABLES, type Rng } from './rng.ts';

/** The networks and optimisers of single-critic BCQ (bcq.ts BcqNetworks plus its three Adams). */
export interface FusedBcqState {
  G: Vae;
  P: Mlp;
  PTarget: Mlp;
  Q: TwinCritic;
  QTarget: TwinCritic;
  optG: Adam;
  optP: Adam;
  optQ: Adam;
}

interface CpuData {
  data: { get(id: tf.DataId): { values: unknown; refCount: number } | undefined };
}

export const FUSED_STAT_NAMES = ['vaeLoss', 'vaeRecon', 'vaeKl', 'criticLoss', 'actorLoss', 'qMean', 'qStd', 'targetMean'] as const;

export class FusedBcqStep {
  private readonly owned = new WeakSet<Float32Array>();
  private readonly dims: Int32Array;
  private readonly hyper = new Float64Array(17);
  private readonly stats = new Float64Array(8);
  private readonly vars: tf.Variable[];
  private readonly empty = new Float32Array(0);

  constructor(
    private readonly blas: NativeBlas,
    private readonly st: FusedBcqState,
    private readonly cfg: BcqConfig,
    readonly stateDim: number,
    readonly actionDim: number,
    readonly batchSize: number,
  ) {
    const { G, P, Q } = st;
    const widths = (m: Mlp) => [m.layers.length, m.layers[0].W.shape[0], ...m.layers.map((l) => l.W.shape[1] as number)];
    const L = G.latentDim;
    this.dims = Int32Array.from([stateDim, actionDim, L, batchSize, cfg.numSamples, 0, ...widths(G.encoder), ...widths(G.decoder), ...widths(P), ...widths(Q.q1)]);
    const mlpVars = (m: Mlp) => m.layers.flatMap((l) => [l.W, l.b]);
    const gVars = [G.encoder, G.mean, G.logStd, G.decoder].flatMap(mlpVars);
    // the order mtf_fused.c bcqStep reads: weights of G, P, P′, Q1, Q2, Q1′, Q2′, then the Adam moments
    this.vars = [
      ...gVars,
      ...mlpVars(P),
      ...mlpVars(st.PTarget),
      ...mlpVars(Q.q1),
      ...mlpVars(Q.q2),
      ...mlpVars(st.QTarget.q1),
      ...mlpVars(st.QTarget.q2),
      ...st.optG.m, ...st.optG.v,
      ...st.optP.m, ...st.optP.v,
      ...st.optQ.m, ...st.optQ.v,
    ];
    // The optimisers must hold exactly these variables in this order (bcq.ts builds them so).
    const same = (opt: Adam, vs: tf.Variable[]) => opt.vars.length === vs.length && opt.vars.every(([, v], i) => v === vs[i]);
    if (!same(st.optG, gVars) || !same(st.optP, mlpVars(P)) || !same(st.optQ, [...mlpVars(Q.q1), ...mlpVars(Q.q2)])) {
      throw new Error('fused BCQ step: the optimisers do not hold the networks\' variables in the expected order');
    }
    const { KN, WN, FN } = ZIGGURAT_TABLES();
    blas.setZiggurat(KN, WN, FN);
  }

  /**
   * One step on `mb` (as Bcq.step), drawing from `rng` as the tfjs path does. `t` are the 1-based Adam
   * steps of G, P and Q after this step; `updateTargets` whether this step soft-updates P′, Q′.
   */
  step(mb: Minibatch, rng: Rng, t: { G: number; P: number; Q: number }, updateTargets: boolean, reconWeight: Float32Array | null): Record<string, number> {
    const { cfg } = this;
    const B = mb.s.shape[0];
    if (B !== this.batchSize) throw new RangeError(`fused BCQ step: minibatch of ${B} rows, built for ${this.batchSize}`);
    const params = this.privateArrays();
    this.dims[5] = (updateTargets ? 1 : 0) | (mb.discount ? 2 : 0) | (reconWeight ? 4 : 0);
    const h = this.hyper;
    h.set([cfg.klWeight, cfg.logStdMin, cfg.logStdMax, cfg.rho, cfg.lambda, cfg.gamma, cfg.eta, cfg.lrVae, cfg.lrActor, cfg.lrCritic, cfg.adamBeta1, cfg.adamBeta2, cfg.adamEps, t.G, t.P, t.Q, cfg.zClip]);
    const f = (x: tf.Tensor) => x.dataSync() as Float32Array; // the CPU backend's own array, read only
    const batch = [f(mb.s), f(mb.a), f(mb.r), f(mb.notDone), f(mb.mask), mb.discount ? f(mb.discount) : this.empty, f(mb.s2), reconWeight ?? this.empty];
    // the step draws ε, z′ and z from the run's Rng in C (rng.ts's generator, value for value)
    this.blas.bcqStep(params, this.dims, h, batch, this.stats, rng.stateWords());
    const out: Record<string, number> = {};
    FUSED_STAT_NAMES.forEach((k, i) => (out[k] = this.stats[i]));
    return out;
  }

  /** Each variable's backing array, made private to it (a copy assigned once) where it is shared or not ours. */
  private privateArrays(): Float32Array[] {
    const backend = tf.backend() as unknown as CpuData;
    return this.vars.map((v) => {
      let d = backend.data.get(v.dataId);
      if (!d || !(d.values instanceof Float32Array)) throw new Error(`fused BCQ step: variable ${v.name} has no float32 data on backend ${tf.getBackend()}`);
      if (d.refCount === 1 && this.owned.has(d.values)) return d.values;
      const copy = Float32Array.from(d.values);
      tf.tidy(() => v.assign(tf.tensor(copy, v.shape, 'float32')));
      d = backend.data.get(v.dataId)!;
      const values = d.values as Float32Array;
      if (d.refCount !== 1) throw new Error(`fused BCQ step: variable ${v.name} still shares its buffer after a private copy`);
      this.owned.add(values);
      return values;
    });
  }
}
