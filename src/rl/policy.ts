/**
 * The trained policy as the rest of batchrl-mtf uses it: a batch function from logged-unit states to
 * logged-unit fusion weights α (the simulator and OPE plug it in), plus its weights and normalisation
 * as plain data for the ONNX export (issue 6).
 *
 * BCQ's π (Eq. 4) samples n latent codes per state; those come from the policy's own RNG, seeded at
 * construction, so a Policy built from the same weights and seed returns the same actions — or, given
 * baked codes (`latent`), every state is scored against the same n codes, as in the exported graph.
 */
import type { Algorithm, PolicyNetworks } from './algorithm.ts';
import { denormalizeActions, normalizeStates, type Normalization } from './normalization.ts';
import { Rng } from './rng.ts';

export const POLICY_FORMAT = 'batchrl-mtf/policy@1';

export interface PolicySpec {
  format: typeof POLICY_FORMAT;
  algo: string;
  stateDim: number;
  actionDim: number;
  /** inputs: s_norm = (s − stateMean)/stateStd; outputs: α = min + (u + 1)/2·(max − min) */
  normalization: Normalization;
  networks: PolicyNetworks;
}

/** (states [n × stateDim] row-major, n) → α [n × actionDim], logged units. */
export type PolicyFn = (states: Float32Array, n: number) => Float32Array;

/** States per forward pass (BCQ evaluates n× as many rows). */
const CHUNK = 4096;

export class Policy {
  private readonly rng: Rng;
  private disposed = false;

  constructor(
    private readonly algo: Algorithm,
    readonly normalization: Normalization,
    readonly stateDim: number,
    readonly actionDim: number,
    seed = 0,
    /** BCQ: baked latent codes (src/rl/latent.ts) instead of fresh draws, as the exported graph acts */
    readonly latent: Float32Array | null = null,
  ) {
    this.rng = new Rng(seed);
  }

  /** The batch function (bound: pass `policy.act` around freely). */
  readonly act: PolicyFn = (states, n) => {
    if (this.disposed) throw new Error('policy has been disposed');
    if (!Number.isInteger(n) || n < 0 || states.length !== n * this.stateDim) {
      throw new RangeError(`Expected ${n} states of ${this.stateDim} values (${n * this.stateDim}), but got ${states.length} values.`);
    }
    const out = new Float32Array(n * this.actionDim);
    for (let i = 0; i < n; i += CHUNK) {
      const m = Math.min(CHUNK, n - i);
      const s = normalizeStates(states.subarray(i * this.stateDim, (i + m) * this.stateDim), this.normalization);
      out.set(denormalizeActions(this.algo.act(s, m, this.rng, this.latent), this.normalization), i * this.actionDim);
    }
    return out;
  };

  /**
   * BCQ and BC: the logged action distribution as the generative model G represents it — `samples`
   * draws α = D(s, z) per state, logged units, [n × samples × actionDim], z ~ N(0, I) clipped to ±zClip
   * (null: unclipped; BCQ's candidates use the config's zClip) from a generator seeded with `seed`.
   */
  sampleGenerator(states: Float32Array, n: number, samples: number, opts: { zClip?: number | null; seed?: number } = {}): Float32Array {
    if (this.disposed) throw new Error('policy has been disposed');
    if (!this.algo.sampleGenerator) throw new Error(`${this.algo.name} has no generative model`);
    if (states.length !== n * this.stateDim) throw new RangeError(`Expected ${n} states of ${this.stateDim} values, but got ${states.length} values.`);
    const u = this.algo.sampleGenerator(normalizeStates(states, this.normalization), n, samples, new Rng(opts.seed ?? 0), opts.zClip ?? null);
    return denormalizeActions(u, this.normalization);
  }

  /** The algorithm behind it (bcq, bc, td3, …). */
  get algoName(): string {
    return this.algo.name;
  }

  /** Weights and normalisation as plain data (copies). */
  spec(): PolicySpec {
    return {
      format: POLICY_FORMAT,
      algo: this.algo.name,
      stateDim: this.stateDim,
      actionDim: this.actionDim,
      normalization: structuredClone(this.normalization),
      networks: this.algo.policyNetworks(),
    };
  }

  /** Frees every tensor of the underlying model. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.algo.dispose();
  }
}
