/**
 * What the export works from: the policy's weights and normalisation (src/rl's PolicySpec), the baked
 * latent samples of BCQ's π, and β of Eq. (1), checked once here so that the graph builders, the
 * reference forward pass and the manifest can trust their shapes.
 *
 * BCQ's π (Eq. 4) draws n latent codes z ~ clip(N(0, 1), −zClip, zClip) per state and call. A ranking
 * stack needs the same α for the same state, so the export draws the n codes once, from a seeded
 * generator, and bakes them into the graph: every state is scored against the same n candidates
 * a_j = ξ(s, D(s, z_j)). The seed is recorded in the manifest and the ONNX metadata.
 */
import { expandBeta, formatBeta, sameBeta } from '../data/fusionBeta.ts';
import { InputError } from '../errors/index.ts';
import type { LayerSpec, PolicyNetworks, PolicySpec } from '../rl/index.ts';
import { DEFAULT_LATENT_SEED, latentSamples } from '../rl/latent.ts';

/**
 * β_i of Eq. (1), f = Σ_i α_i·log(o_i + β_i), when neither the logs nor --beta say it: a small offset so
 * that o_i = 0 scores finitely. A guess: the export warns when it uses it (chooseBeta).
 */
export const DEFAULT_BETA = 0.01;

/** Where the exported β came from (manifest `beta_source`). */
export type BetaSource = 'logs' | 'option' | 'default';

/** A β the data records, and where (named in messages). */
export interface KnownBeta {
  beta: readonly number[];
  where: string;
}

/**
 * The β the scorer is exported with. β belongs to the ranking stack that wrote the logs: the policy was
 * learned, and evaluated, on sessions ranked by Σ α_i·log(o_i + β_i) with that β, so a scorer with another
 * β ranks with a function nobody measured. Hence: the logs' β (the trajectories' metadata.json, or what
 * the training report recorded of the data it was trained on; the two must agree), and an explicit
 * `option` must equal it (float32 equality, as the graph holds it). Only when the logs' β is unknown does
 * `option` choose, else DEFAULT_BETA with a warning — not a refusal, since logs from writers that record
 * no β (every log before β was part of the contract) must still export; the manifest says which it was.
 */
export function chooseBeta(
  k: number,
  logs: { data?: KnownBeta | null; training?: KnownBeta | null },
  option?: number | readonly number[],
): { beta: number[]; source: BetaSource; warning: string | null } {
  const known = [logs.data, logs.training].filter((x): x is KnownBeta => !!x);
  for (const x of known) {
    if (x.beta.length !== k) throw new InputError(`${x.where}: β has ${x.beta.length} values, the policy has ${k} tasks`, { file: x.where, field: 'beta' });
  }
  if (known.length === 2 && !sameBeta(known[0].beta, known[1].beta)) {
    throw new InputError(
      `${known[0].where} has β ${formatBeta(known[0].beta)}, but the checkpoint was trained on data with β ${formatBeta(known[1].beta)} (${known[1].where}): export with the trajectories it was trained on`,
      { file: known[0].where, field: '--data' },
    );
  }
  const fromOption = option === undefined ? null : expandBeta(typeof option === 'number' ? option : [...option], k, '--beta');
  const logged = known[0] ?? null;
  if (logged) {
    if (fromOption && !sameBeta(fromOption, logged.beta)) {
      throw new InputError(
        `--beta ${formatBeta(fromOption)} disagrees with the logs' β ${formatBeta(logged.beta)} (${logged.where}): the policy was learned and evaluated on sessions ranked with the logs' β; drop --beta to use it`,
        { field: '--beta', file: logged.where },
      );
    }
    return { beta: [...logged.beta], source: 'logs', warning: null };
  }
  if (fromOption) return { beta: fromOption, source: 'option', warning: null };
  return {
    beta: new Array<number>(k).fill(DEFAULT_BETA),
    source: 'default',
    warning: `β unknown: neither --data's metadata.json nor the training report records the logs' β, so the scorer uses ${DEFAULT_BETA} for every task; if the ranking stack fuses with another β, pass it with --beta (or record it at ingest: footer key mtf.beta, or --beta)`,
  };
}
/** The baked latent codes live with the policy (src/rl/latent.ts): OPE acts with the same ones. */
export { DEFAULT_LATENT_SEED, latentSamples } from '../rl/latent.ts';

export interface FusionModel {
  algo: string;
  stateDim: number;
  actionDim: number;
  normalization: PolicySpec['normalization'];
  networks: PolicyNetworks;
  /** BCQ: the baked latent samples [numSamples × latentDim], row-major; null for the other kinds */
  latent: Float32Array | null;
  latentSeed: number | null;
  /** β_i of Eq. (1), one per action dimension (task) */
  beta: number[];
}

export interface FusionModelOptions {
  /** β of Eq. (1): one number for every task, or one per task (default DEFAULT_BETA) */
  beta?: number | number[];
  /** seed of the baked latent samples (default DEFAULT_LATENT_SEED) */
  latentSeed?: number;
}

export function fusionModel(spec: PolicySpec, opts: FusionModelOptions = {}): FusionModel {
  const { stateDim: S, actionDim: A, normalization: norm, networks } = spec;
  const where = `policy (${spec.algo})`;
  if (!Number.isInteger(S) || S <= 0 || !Number.isInteger(A) || A <= 0) throw new InputError(`${where}: stateDim and actionDim must be positive integers, got ${S} and ${A}`);
  for (const [field, v, n] of [
    ['stateMean', norm.stateMean, S],
    ['stateStd', norm.stateStd, S],
    ['actionMin', norm.actionMin, A],
    ['actionMax', norm.actionMax, A],
  ] as const) {
    if (v.length !== n || v.some((x) => !Number.isFinite(x))) throw new InputError(`${where}: normalization.${field} must hold ${n} finite numbers, got [${v.join(', ')}]`, { field: `normalization.${field}` });
  }
  if (norm.stateStd.some((x) => x <= 0)) throw new InputError(`${where}: normalization.stateStd must be positive`, { field: 'normalization.stateStd' });
  if (norm.actionMin.some((lo, j) => lo > norm.actionMax[j])) throw new InputError(`${where}: normalization.actionMin exceeds actionMax`, { field: 'normalization.actionMin' });

  const betaIn = opts.beta ?? DEFAULT_BETA;
  const beta = typeof betaIn === 'number' ? new Array<number>(A).fill(betaIn) : [...betaIn];
  if (beta.length !== A) throw new InputError(`beta: expected 1 or ${A} values (one per task), got ${beta.length}`, { field: 'beta' });
  if (beta.some((b) => !Number.isFinite(b) || b < 0)) throw new InputError(`beta: every β_i must be a finite number ≥ 0, got [${beta.join(', ')}]`, { field: 'beta' });

  let latent: Float32Array | null = null;
  let latentSeed: number | null = null;
  if (networks.kind === 'bcq') {
    checkMlp(networks.decoder, S + networks.latentDim, A, 'decoder');
    checkMlp(networks.perturbation, S + A, A, 'perturbation');
    checkMlp(networks.q1, S + A, 1, 'q1');
    if (!Number.isInteger(networks.numSamples) || networks.numSamples < 1) throw new InputError(`${where}: numSamples must be a positive integer, got ${networks.numSamples}`);
    latentSeed = opts.latentSeed ?? DEFAULT_LATENT_SEED;
    latent = latentSamples(networks.numSamples, networks.latentDim, networks.zClip, latentSeed);
  } else if (networks.kind === 'vae-decoder') {
    checkMlp(networks.decoder, S + networks.latentDim, A, 'decoder');
  } else {
    checkMlp(networks.actor, S, A, 'actor');
  }
  return { algo: spec.algo, stateDim: S, actionDim: A, normalization: structuredClone(norm), networks, latent, latentSeed, beta };
}

function checkMlp(layers: LayerSpec[], inDim: number, outDim: number, name: string): void {
  if (layers.length === 0) throw new InputError(`policy network ${name} has no layers`);
  let d = inDim;
  layers.forEach((l, i) => {
    if (l.inDim !== d || l.W.length !== l.inDim * l.outDim || l.b.length !== l.outDim) {
      throw new InputError(`policy network ${name}, layer ${i}: expected W [${d} × ${l.outDim}] and b [${l.outDim}], got inDim ${l.inDim}, ${l.W.length} weights, ${l.b.length} biases`);
    }
    d = l.outDim;
  });
  if (d !== outDim) throw new InputError(`policy network ${name} outputs ${d} values, expected ${outDim}`);
}

/** Rows r0..r1 of a row-major [in × out] weight matrix. */
export function weightRows(l: LayerSpec, r0: number, r1: number): Float32Array {
  return l.W.subarray(r0 * l.outDim, r1 * l.outDim);
}
