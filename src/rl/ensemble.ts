/**
 * Ensemble pessimism for BCQ and TD3 / TD3+BC (issue 21; config `critics`, src/rl/README.md §12): N
 * critics trained on one target, and the target's value at (s′, a′) taken pessimistically over them —
 *   min        min_j Q′_j over all N (SAC-N, An et al. 2021, "Uncertainty-Based Offline RL with
 *              Diversified Q-Ensemble"; at N = 2 the clipped double Q of TD3 and BCQ, unchanged);
 *   subset-min min_{j ∈ M} Q′_j over M of the N drawn afresh each step, one draw for the whole minibatch
 *              (REDQ, Chen et al. 2021, Alg. 1 l. 6–7);
 *   mean-std   mean_j Q′_j − k·sd_j Q′_j, sd the population sd over the N (the lower confidence bound of
 *              PBRL, Bai et al. 2022, and UnifiedRL's spread penalty, arXiv 2404.17589).
 * BCQ keeps Eq. 7's λ-mix: with min and subset-min the mixed value is λ·min + (1 − λ)·max over the same
 * critics. With mean-std the mix is replaced, not composed: for two values min = mean − sd and max =
 * mean + sd (population sd = |Q′_1 − Q′_2|/2), so Eq. 7 at N = 2 is mean − (2λ − 1)·sd, i.e. mean-std with
 * k = 2λ − 1; mean-std therefore takes its pessimism from k alone and asks for λ = 1.
 *
 * The actor's Q. The twin pair keeps Q1, as TD3 / TD3+BC / BCQ do. Beyond it:
 *   TD3 / TD3+BC (the actor, TD3+BC's λ, reported Q(s, π(s))): the target's own aggregate over the online
 *     critics — min over the N (SAC-N's and EDAC's actor, An et al. 2021 Eq. 3), mean − k·sd (PBRL's
 *     LCB), and for subset-min the mean of all N (REDQ, Alg. 1 l. 10). Offline, this is what keeps the
 *     actor off actions where the critics disagree: a penalty in the target alone reaches the actor
 *     only through the next state's value.
 *   BCQ (Eq. 5's DPG step and Eq. 4's argmax): the mean of the N critics for N > 2. Eq. 4 is exported as
 *     one MLP (policy spec → ONNX) and a mean is one MLP exactly (`actorQSpec`), a min or an sd is not;
 *     BCQ's own batch constraint (the VAE and ρ) keeps its candidates near the data.
 */
import * as tf from '@tensorflow/tfjs';
import { InputError } from '../errors/index.ts';
import { CRITICS_DEFAULT, type CriticEnsemble } from './config.ts';
import { criticNets, q, sumOfResponsesSpec, type TwinCritic } from './networks/critic.ts';
import { mlpSpec, type LayerSpec } from './networks/mlp.ts';
import type { Rng } from './rng.ts';

/** The default twin pair with the clipped double-Q target (the fused BCQ step handles only this). */
export function isTwinDefault(c: CriticEnsemble): boolean {
  return c.count === 2 && c.target === 'min';
}

/**
 * The cross-field checks the schema cannot make: per-response critics keep their twin pairs, and BCQ's λ
 * (Eq. 7) and mean-std's k are two forms of one penalty (module doc), so mean-std asks for λ = 1.
 */
export function checkEnsemble(cfg: { critics: CriticEnsemble; responses: unknown[] | null; lambda?: number }): void {
  const c = cfg.critics;
  if (cfg.responses && !isTwinDefault(c)) {
    throw new InputError('config: critics: ensemble pessimism needs responses: null (per-response critics keep their twin pairs)', { field: 'critics' });
  }
  if (c.target === 'mean-std' && cfg.lambda !== undefined && cfg.lambda !== 1) {
    throw new InputError(
      `config: lambda: ${cfg.lambda} with critics.target mean-std; Eq. 7's λ-mix over two critics is mean − (2λ − 1)·sd, so set the penalty with critics.k (k = ${2 * cfg.lambda - 1} for this λ) and leave λ at 1`,
      { field: 'lambda' },
    );
  }
}

/** The M critics of subset-min for one step (sorted indices, uniform without replacement); null for the other targets (no draw). */
export function drawSubset(c: CriticEnsemble, rng: Rng): number[] | null {
  if (c.target !== 'subset-min') return null;
  const idx = Array.from({ length: c.count }, (_, j) => j);
  for (let j = 0; j < c.subset; j++) {
    const k = j + rng.int(c.count - j); // partial Fisher–Yates
    [idx[j], idx[k]] = [idx[k], idx[j]];
  }
  return idx.slice(0, c.subset).sort((x, y) => x - y);
}

/**
 * The pessimistic value over the critics' values `qs` (each [rows, 1], same rows): per `c.target` (module
 * doc), with BCQ's λ-mix for min and subset-min (λ = 1: the plain min; TD3 passes 1). `subset`: the
 * indices drawSubset gave (subset-min only). Two critics take the tf.minimum / tf.maximum of the twin
 * path, so the default target is today's, operation for operation.
 */
export function pessimisticQ(qs: tf.Tensor2D[], c: CriticEnsemble = CRITICS_DEFAULT, lambda = 1, subset: number[] | null = null): tf.Tensor2D {
  return tf.tidy(() => {
    if (qs.length !== c.count) throw new RangeError(`pessimisticQ: ${qs.length} critic values for critics.count ${c.count}`);
    if (c.target === 'mean-std') {
      const { mean, variance } = tf.moments(tf.concat(qs, 1), 1, true);
      // + 1e-12 keeps the actor's gradient finite where the critics agree exactly (sd → 0)
      return tf.sub(mean, tf.mul(c.k, tf.sqrt(tf.add(variance, 1e-12)))) as tf.Tensor2D;
    }
    let pick = qs;
    if (c.target === 'subset-min') {
      if (!subset || subset.length !== c.subset) throw new RangeError(`pessimisticQ: subset-min needs ${c.subset} drawn critic indices`);
      pick = subset.map((j) => qs[j]);
    }
    const two = pick.length === 2;
    const all = two ? null : tf.concat(pick, 1);
    const minQ = two ? tf.minimum(pick[0], pick[1]) : tf.min(all!, 1, true);
    if (lambda === 1) return minQ as tf.Tensor2D;
    const maxQ = two ? tf.maximum(pick[0], pick[1]) : tf.max(all!, 1, true);
    return tf.add(tf.mul(lambda, minQ), tf.mul(1 - lambda, maxQ)) as tf.Tensor2D;
  });
}

/** The pessimistic value of the critics `Q` at (s, a), the target's: `pessimisticQ` of every critic's Q(s, a). */
export function ensembleTargetQ(Q: TwinCritic, s: tf.Tensor2D, a: tf.Tensor2D, c: CriticEnsemble = CRITICS_DEFAULT, lambda = 1, subset: number[] | null = null): tf.Tensor2D {
  return tf.tidy(() => pessimisticQ(criticNets(Q).map((n) => q(n, s, a)), c, lambda, subset));
}

/**
 * The actor's Q(s, a) ([rows, 1]) of the module doc: `c` null (BCQ) — Q1 for the pair, the mean of N > 2;
 * `c` given (TD3, TD3+BC) — Q1 for the default twin pair, else the target's aggregate over the online
 * critics (subset-min: the mean of all N).
 */
export function actorQ(Q: TwinCritic, s: tf.Tensor2D, a: tf.Tensor2D, c: CriticEnsemble | null = null): tf.Tensor2D {
  if (c === null ? !Q.more : isTwinDefault(c)) return q(Q.q1, s, a);
  return tf.tidy(() => {
    const qs = criticNets(Q).map((n) => q(n, s, a));
    if (c === null || c.target === 'subset-min') return tf.div(tf.addN(qs), qs.length) as tf.Tensor2D;
    return pessimisticQ(qs, c);
  });
}

/**
 * `actorQ` as one MLP of one output, exactly, for the policy spec and the ONNX export (BCQ's Eq. 4):
 * Q1's own layers for the pair; for N > 2 the N critics side by side (sumOfResponsesSpec's block-diagonal
 * form: hidden layers N× wider) with the last layer scaled by 1/N.
 */
export function actorQSpec(Q: TwinCritic): LayerSpec[] {
  if (!Q.more) return mlpSpec(Q.q1);
  const nets = criticNets(Q);
  const layers = sumOfResponsesSpec(nets);
  const last = layers[layers.length - 1];
  const scale = (x: Float32Array) => Float32Array.from(x, (v) => v / nets.length);
  return [...layers.slice(0, -1), { ...last, W: scale(last.W), b: scale(last.b) }];
}
