/**
 * Behavior cloning with the VAE's decoder (BatchRL-MTF's BC baseline): G is trained on Eq. (3) exactly
 * as inside BCQ, and the policy is the decoder at the prior's mode, π(s) = D(s, 0).
 */
import * as tf from '@tensorflow/tfjs';
import { Adam } from '../adam.ts';
import { normal, read, type Algorithm, type Minibatch, type PolicyNetworks } from '../algorithm.ts';
import type { BcConfig } from '../config.ts';
import { mlpSpec } from '../networks/mlp.ts';
import { createVae, decode, disposeVae, reconWeights, sampleActions, vaeLoss, vaeVariables, type Vae } from '../networks/vae.ts';
import type { Rng } from '../rng.ts';

export class Bc implements Algorithm {
  readonly name = 'bc' as const;
  readonly nextStateRepeats = 0;
  readonly G: Vae;
  private readonly optG: Adam;
  /** 1/σ_j² per action coordinate with vaeActionScale = standardized (setActionSpread), else null */
  private reconWeight: tf.Tensor1D | null = null;

  constructor(
    readonly stateDim: number,
    readonly actionDim: number,
    readonly cfg: BcConfig,
    rng: Rng,
  ) {
    this.G = createVae(stateDim, actionDim, cfg.latentDim ?? 2 * actionDim, cfg.vaeHidden, rng);
    this.optG = new Adam(vaeVariables('G', this.G), { lr: cfg.lrVae, beta1: cfg.adamBeta1, beta2: cfg.adamBeta2, eps: cfg.adamEps });
  }

  step(mb: Minibatch, rng: Rng): Record<string, number> {
    const { cfg, G } = this;
    const out = tf.tidy(() => {
      const eps = normal(rng, mb.s.shape[0], G.latentDim);
      let recon!: tf.Scalar, kl!: tf.Scalar;
      const loss = this.optG.minimize(() => {
        const t = vaeLoss(G, mb.s, mb.a, eps, cfg.klWeight, cfg.logStdMin, cfg.logStdMax, this.reconWeight); // Eq. (3)
        recon = tf.keep(t.recon);
        kl = tf.keep(t.kl);
        return t.loss;
      });
      const stats = tf.stack([loss, recon, kl]);
      tf.dispose([recon, kl]);
      return stats;
    });
    const v = out.dataSync();
    out.dispose();
    return { vaeLoss: v[0], vaeRecon: v[1], vaeKl: v[2] };
  }

  act(states: Float32Array, count: number): Float32Array {
    return tf.tidy(() =>
      read(decode(this.G, tf.tensor2d(states, [count, this.stateDim]), tf.zeros([count, this.G.latentDim]) as tf.Tensor2D)),
    );
  }

  setActionSpread(sd: ArrayLike<number>): void {
    this.reconWeight?.dispose();
    this.reconWeight = this.cfg.vaeActionScale === 'standardized' ? tf.tensor1d(reconWeights(sd)) : null;
  }

  sampleGenerator(states: Float32Array, count: number, samples: number, rng: Rng, zClip: number | null): Float32Array {
    const z = rng.fillNormal(new Float32Array(count * samples * this.G.latentDim), zClip ?? Infinity);
    return sampleActions(this.G, states, count, this.stateDim, samples, z);
  }

  q1(): null {
    return null;
  }

  variables(): [string, tf.Variable][] {
    return [...vaeVariables('G', this.G), ...this.optG.slots('G')];
  }

  counters(): Record<string, number> {
    return { adamG: this.optG.t };
  }

  setCounters(c: Record<string, number>): void {
    this.optG.t = c.adamG;
  }

  policyNetworks(): PolicyNetworks {
    return { kind: 'vae-decoder', decoder: mlpSpec(this.G.decoder, 'tanh'), latentDim: this.G.latentDim };
  }

  dispose(): void {
    disposeVae(this.G);
    this.reconWeight?.dispose();
    this.optG.dispose();
  }
}
