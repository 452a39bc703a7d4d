/**
 * Black-box tuning against the simulator, on the objective the evaluation reports: the mean true
 * discounted return Σ_t γ^t r_t (γ = GAMMA, r by REWARD_WEIGHTS, Eq. 2) over sessions. This is how the
 * product's users tune their one constant α (the paper's online baseline is Bayesian optimisation), and
 * how the simulator's reference policies are found.
 *
 * Search with CMA-ES (cmaes.ts). Every generation's candidates are rolled out on the same sessions
 * (common random numbers: a candidate wins on merit, not on luck of the draw), and each generation on
 * fresh ones (run tags SEARCH_RUN_TAG + g of the search seed), so the search does not fit one sample
 * of sessions. Ground truth uses run tag 0: searches and evaluations never share sessions. The answer
 * is the distribution's mean averaged over the last quarter of the generations — not the luckiest
 * candidate: near the optimum the objective is flat and the noise of a generation's sessions larger
 * than the differences, so the mean wanders along the ridge and averaging it (Polyak–Ruppert style)
 * cancels the wander.
 */
import { CmaEs } from './cmaes.ts';
import { GAMMA, NUM_TASKS } from './config.ts';
import { rollout, type RewardWeights } from './engine.ts';
import { constantPolicy } from './policies.ts';
import type { FusionPolicy } from './policy.ts';
import type { World } from './world.ts';

/** Run tags of search sessions start here (ground truth and logs use 0 and day numbers ≈ 20,000). */
export const SEARCH_RUN_TAG = 1_000_000;

export type TuneObjective = 'discountedReturn' | 'return';

export interface MaximizeOptions {
  dim: number;
  /** the initial mean */
  start: ArrayLike<number>;
  /** initial step size (default 0.5) */
  sigma?: number;
  generations: number;
  popsize?: number;
  /** the optimiser's own seed */
  seed?: number;
  /** values of a generation's candidates (all on the same sessions), larger = better */
  evaluate: (xs: number[][], generation: number) => Promise<number[]>;
  onGeneration?: (info: GenerationInfo) => void;
}

export interface GenerationInfo {
  generation: number;
  /** mean and best of the generation's values */
  mean: number;
  best: number;
  sigma: number;
  x: number[];
  evaluations: number;
}

export interface MaximizeResult {
  /** the distribution's mean averaged over the last quarter of the generations (the answer) */
  x: number[];
  /** the distribution's mean after the last generation */
  last: number[];
  sigma: number;
  evaluations: number;
  history: GenerationInfo[];
}

/** CMA-ES over R^dim with a population evaluated together (see the file's comment). */
export async function maximize(o: MaximizeOptions): Promise<MaximizeResult> {
  if (o.start.length !== o.dim) throw new RangeError(`maximize: start has ${o.start.length} values, expected ${o.dim}`);
  if (!Number.isInteger(o.generations) || o.generations < 1) throw new RangeError(`maximize: generations must be a positive integer, got ${o.generations}`);
  const es = new CmaEs({ mean: o.start, sigma: o.sigma ?? 0.5, popsize: o.popsize, seed: o.seed ?? 0 });
  const history: GenerationInfo[] = [];
  for (let g = 0; g < o.generations; g++) {
    const xs = es.ask();
    const values = await o.evaluate(xs, g);
    es.tell(values);
    const st = es.state();
    const info = { generation: g, mean: values.reduce((a, b) => a + b, 0) / values.length, best: Math.max(...values), sigma: st.sigma, x: st.mean, evaluations: st.evaluations };
    history.push(info);
    o.onGeneration?.(info);
  }
  const st = es.state();
  const tail = history.slice(-Math.max(1, Math.ceil(history.length / 4)));
  const x = Array.from({ length: o.dim }, (_, i) => tail.reduce((a, h) => a + h.x[i], 0) / tail.length);
  return { x, last: st.mean, sigma: st.sigma, evaluations: st.evaluations, history };
}

/** α scaled to a given sum (Eq. 1's ranking depends on the ratios only; the scale is a convention). */
export function normalizeAlpha(alpha: ArrayLike<number>, sum: number): number[] {
  let s = 0;
  for (let i = 0; i < alpha.length; i++) s += alpha[i];
  if (!(s > 0)) throw new RangeError(`normalizeAlpha: the weights sum to ${s}`);
  return Array.from(alpha, (a) => (a * sum) / s);
}

/** Mean per-session objective of a rollout. */
export async function meanObjective(o: {
  world: World;
  policy: FusionPolicy;
  sessions: number;
  seed: number;
  runTag: number;
  objective?: TuneObjective;
  userType?: number;
  rewardWeights?: RewardWeights;
  gamma?: number;
}): Promise<number> {
  const r = await rollout({ world: o.world, policy: o.policy, sessions: o.sessions, seed: o.seed, runTag: o.runTag, userType: o.userType, rewardWeights: o.rewardWeights, gamma: o.gamma ?? GAMMA });
  const x = (o.objective ?? 'discountedReturn') === 'return' ? r.return : r.discountedReturn;
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s / x.length;
}

export interface TuneConstantOptions {
  world: World;
  /** where the search starts (e.g. the hand-tuned production α) */
  start: ArrayLike<number>;
  /** sessions per generation */
  sessions: number;
  /** search seed: keep it apart from evaluation seeds */
  seed: number;
  generations: number;
  popsize?: number;
  /** initial step in log α (default 0.5: a factor of e^±0.5) */
  sigma?: number;
  objective?: TuneObjective;
  /** only users of this latent type (the per-type oracle) */
  userType?: number;
  rewardWeights?: RewardWeights;
  gamma?: number;
  /** the sum the answer is scaled to (default: the start's sum) */
  scale?: number;
  onGeneration?: (info: GenerationInfo & { alpha: number[] }) => void;
}

export interface TuneConstantResult {
  alpha: number[];
  evaluations: number;
  history: (GenerationInfo & { alpha: number[] })[];
}

/**
 * The best constant α by CMA-ES on log-weights. α_k (the last task) is the reference, log α_k = 0,
 * so the search runs over the k − 1 free ratios (the scale of α does not change Eq. 1's ranking).
 */
export async function tuneConstantAlpha(o: TuneConstantOptions): Promise<TuneConstantResult> {
  const K = NUM_TASKS;
  if (o.start.length !== K) throw new RangeError(`tuneConstantAlpha: start has ${o.start.length} weights, expected ${K}`);
  for (let i = 0; i < K; i++) if (!(o.start[i] > 0)) throw new RangeError(`tuneConstantAlpha: start weight ${i} is ${o.start[i]}; the search runs on log α, every weight must be > 0`);
  const scale = o.scale ?? Array.from(o.start).reduce((a, b) => a + b, 0);
  const toAlpha = (x: ArrayLike<number>) => normalizeAlpha([...Array.from(x, Math.exp), 1], scale);
  const start = Array.from({ length: K - 1 }, (_, i) => Math.log(o.start[i] / o.start[K - 1]));
  const history: TuneConstantResult['history'] = [];
  const r = await maximize({
    dim: K - 1,
    start,
    sigma: o.sigma ?? 0.5,
    generations: o.generations,
    popsize: o.popsize,
    seed: o.seed,
    evaluate: async (xs, g) => {
      const values: number[] = [];
      for (const x of xs) {
        values.push(await meanObjective({ ...o, policy: constantPolicy(toAlpha(x)), runTag: SEARCH_RUN_TAG + g }));
      }
      return values;
    },
    onGeneration: (info) => {
      const h = { ...info, alpha: toAlpha(info.x) };
      history.push(h);
      o.onGeneration?.(h);
    },
  });
  return { alpha: toAlpha(r.x), evaluations: r.evaluations, history };
}
