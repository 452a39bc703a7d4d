/**
 * Every hyperparameter of training: type + default + range + one line of doc (the doc becomes
 * `mtf train --help` text and the config reference). Defaults are BatchRL-MTF's (Zhang et al., §4.2 and
 * Algorithm 1) where the paper states them; where it does not, the choice and its source are in the doc.
 *
 * A config file is one flat JSON object: the trainer's fields plus the chosen algorithm's fields.
 * Unknown keys are errors (a TD3 field in a BCQ config is a typo, not a no-op).
 */
import { BehaviorBoxSchema } from './behaviorBoxSchema.ts'; // zod only: tfjs loads with the learners, not with the config
import { z } from 'zod';

const posInt = () => z.int().positive();
const prob = () => z.number().min(0).max(1);
const layers = () => z.array(posInt()).min(1);

/** Deviations from the paper's defaults, measured in src/rl/README.md §3. */
export const NSTEP_DEFAULT = 3;
export const REWARD_SCALE_DEFAULT = 'auto' as const;
/** The VAE's action scaling and KL weight (README §3.4): the paper's (interval, 1) collapses on our logs. */
export const VAE_ACTION_SCALES = ['interval', 'standardized'] as const;
export type VaeActionScale = (typeof VAE_ACTION_SCALES)[number];
export const VAE_ACTION_SCALE_DEFAULT: VaeActionScale = 'standardized';
export const KL_WEIGHT_DEFAULT = 0.5;

/**
 * The pre-defined action interval (paper §4.5.1: logged α are truncated to it and it is normalised to
 * [−1, 1]; ρ and every policy output are relative to it). `data` = the train split's [min, max] per
 * coordinate (before issue 17); {sd: k} = mean ± k·sd of the train split's α per coordinate; {min, max}
 * = an explicit box per coordinate (README §3.5).
 */
export const ActionIntervalSchema = z.union([
  z.literal('data'),
  z.strictObject({ sd: z.number().positive() }),
  z
    .strictObject({ min: z.array(z.number()).min(1), max: z.array(z.number()).min(1) })
    .refine((b) => b.min.length === b.max.length && b.min.every((lo, j) => Number.isFinite(lo) && Number.isFinite(b.max[j]) && lo < b.max[j]), 'expected min and max of equal length with min < max in every coordinate'),
]);
export type ActionInterval = z.infer<typeof ActionIntervalSchema>;
export const ACTION_INTERVAL_DEFAULT: ActionInterval = { sd: 4 };

/**
 * One response of TSCAC's multi-critic (Cai et al.): a feedback column of the trajectories
 * (`feedback.<name>`, e.g. play_time_s or like), its weight in the actor's objective and its own γ.
 */
export const ResponseSchema = z.strictObject({
  name: z.string().min(1).describe('feedback column of the trajectories (a column of the ingest reward spec)'),
  weight: z
    .number()
    .refine((w) => Number.isFinite(w) && w !== 0, 'expected a finite, non-zero weight')
    .describe('w_i: the actor maximises Σ_i w_i·Q_i'),
  gamma: prob().describe('γ_i of this response\'s critic (TSCAC: 0.95 for watch time, 0 for interactions)'),
});
export type Response = z.infer<typeof ResponseSchema>;
export const RESPONSE_CRITICS = ['separate', 'multihead'] as const;
export type ResponseCriticKind = (typeof RESPONSE_CRITICS)[number];

/**
 * Ensemble pessimism (issue 21; README §12): N critics and how their values at (s′, a′) become the
 * target. min = over all N (SAC-N, An et al. 2021; N = 2: clipped double Q, today's twin critics);
 * subset-min = over M of the N drawn afresh each step (REDQ, Chen et al. 2021); mean-std = mean − k·sd over
 * the N (population sd; the lower confidence bound of PBRL, Bai et al. 2022, and UnifiedRL's spread penalty).
 */
export const CRITIC_TARGETS = ['min', 'subset-min', 'mean-std'] as const;
export type CriticTarget = (typeof CRITIC_TARGETS)[number];
export const CriticEnsembleSchema = z
  .strictObject({
    count: z.int().min(2).max(64).default(2).describe('N critics (2: the twin critics of TD3 / BCQ)'),
    target: z.enum(CRITIC_TARGETS).default('min').describe('min over the N | subset-min: min over M drawn per step | mean-std: mean − k·sd'),
    k: z.number().min(0).default(1).describe('mean-std: the target is mean − k·sd (at N = 2, k = 1 is the min)'),
    subset: z.int().min(2).default(2).describe('subset-min: M critics drawn per step (REDQ: 2)'),
  })
  .refine((c) => c.subset <= c.count, { message: 'expected subset ≤ count', path: ['subset'] });
export type CriticEnsemble = z.infer<typeof CriticEnsembleSchema>;
export const CRITICS_DEFAULT: CriticEnsemble = { count: 2, target: 'min', k: 1, subset: 2 };
const criticsField = () =>
  CriticEnsembleSchema.default(CRITICS_DEFAULT).describe(
    'ensemble pessimism {count: N, target: min | subset-min | mean-std, k, subset: M}: N critics; the target over them is min (SAC-N), min over M drawn per step (REDQ) or mean − k·sd (PBRL, UnifiedRL); the actor keeps Q1 for the default pair, else TD3 / TD3+BC maximise the same aggregate of the online critics (subset-min: their mean, REDQ) and BCQ the mean; default {count: 2, target: min} = the twin critics (src/rl/README.md §12)',
  );

/** Fields shared by every algorithm: the TD machinery and the optimiser. */
const commonShape = {
  batchSize: posInt().default(256).describe('minibatch size (paper §4.2: 256)'),
  gamma: prob().default(0.95).describe('discount factor γ (paper §4.2: 0.95)'),
  nStep: posInt().default(NSTEP_DEFAULT).describe(
    'critic targets bootstrap after n logged steps: y = Σ_{k<m} γ^k r_{t+k} + γ^m·Q′(s_{t+m}, ·), m = min(n, steps to the session end or cut) (paper: 1; default from src/rl/README.md §3)',
  ),
  rewardScale: z.union([z.number().positive(), z.literal('auto')]).default(REWARD_SCALE_DEFAULT).describe(
    'rewards are multiplied by this for training; auto = 1 / mean |r| of the train rows (Q then counts discounted mean-reward steps); losses are in scaled units, reported Q in reward units (paper: 1; default from src/rl/README.md §3)',
  ),
  responses: z
    .array(ResponseSchema)
    .min(1)
    .refine((rs) => new Set(rs.map((r) => r.name)).size === rs.length, 'response names must be distinct')
    .nullable()
    .default(null)
    .describe(
      'per-response critics (TSCAC): [{name, weight, gamma}, …]; each feedback column gets its own twin critics on κ·w_i·v_i with its own γ_i, targets per Eq. (7) at the sample maximising the weighted sum, the actor maximises Σ_i w_i·Q1_i; null = one critic on the logged r (the paper; src/rl/README.md §7)',
    ),
  responseCritic: z
    .enum(RESPONSE_CRITICS)
    .default('separate')
    .describe('with responses: separate = one twin pair of MLPs per response (TSCAC; default); multihead = one twin pair with one output per response, shared hidden layers: ≈ R× cheaper, but measured worse (src/rl/README.md §7.1)'),
  targetUpdateInterval: posInt().default(10).describe('soft-update the target networks every L steps (paper: L = 10)'),
  eta: z.number().gt(0).max(1).default(0.05).describe('soft-update rate η_t: θ′ ← η·θ + (1−η)·θ′ (paper: 0.05)'),
  actorHidden: layers().default([256, 256]).describe('hidden ReLU widths of the actor / perturbation network'),
  criticHidden: layers().default([256, 256]).describe('hidden ReLU widths of each critic'),
  lrActor: z.number().positive().default(1e-4).describe('Adam learning rate of the actor / perturbation network (paper: 1e-4)'),
  lrCritic: z.number().positive().default(2e-4).describe('Adam learning rate of the critics (paper: 2e-4)'),
  adamBeta1: z.number().min(0).lt(1).default(0.9).describe('Adam β1 (PyTorch default)'),
  adamBeta2: z.number().min(0).lt(1).default(0.999).describe('Adam β2 (PyTorch default)'),
  adamEps: z.number().positive().default(1e-8).describe('Adam ε (PyTorch default; tfjs uses 1e-7)'),
};

/** Fields of the conditional VAE G = {E, D} (Eq. 3); BCQ and BC both use it. */
const vaeShape = {
  vaeHidden: layers().default([256, 256]).describe('hidden ReLU widths of the VAE encoder and decoder'),
  latentDim: posInt().nullable().default(null).describe('latent size of the VAE; null = 2·k for k action dims (paper)'),
  lrVae: z.number().positive().default(1e-3).describe('Adam learning rate of the VAE (paper: 1e-3)'),
  klWeight: z.number().min(0).default(KL_WEIGHT_DEFAULT).describe(
    'weight of KL(E(z|s,a) ‖ N(0,1)) in Eq. 3 (paper: 1; reference BCQ code: 0.5; default from src/rl/README.md §3.4)',
  ),
  vaeActionScale: z.enum(VAE_ACTION_SCALES).default(VAE_ACTION_SCALE_DEFAULT).describe(
    "units of Eq. 3's reconstruction error: interval = (a − D(s,z))² in the interval's [−1, 1] (paper); standardized = per coordinate divided by the train split's variance of the normalised actions (src/rl/README.md §3.4)",
  ),
  zClip: z.number().positive().default(0.5).describe('latent samples z ~ N(0,1) are clipped to [−zClip, zClip] when sampling (paper: 0.5)'),
  logStdMin: z.number().default(-4).describe('lower clamp of the encoder log σ (reference BCQ: −4)'),
  logStdMax: z.number().default(15).describe('upper clamp of the encoder log σ (reference BCQ: 15)'),
};

export const BcqConfigSchema = z.strictObject({
  ...commonShape,
  ...vaeShape,
  rho: z.number().positive().default(0.15).describe('perturbation range ρ in normalised action units: P = ρ·tanh(·) (Eq. 5; paper 0.15)'),
  numSamples: posInt().default(10).describe('n sampled, perturbed actions per state in the target (Eq. 7) and the policy (Eq. 4)'),
  lambda: prob().default(1).describe('λ of Eq. 7: λ·min_j Q′_j + (1−λ)·max_j Q′_j (paper: 1 = plain min; reference BCQ: 0.75)'),
  critics: criticsField(),
});
export type BcqConfig = z.infer<typeof BcqConfigSchema>;

export const BcConfigSchema = z.strictObject({
  batchSize: commonShape.batchSize,
  adamBeta1: commonShape.adamBeta1,
  adamBeta2: commonShape.adamBeta2,
  adamEps: commonShape.adamEps,
  ...vaeShape,
});
export type BcConfig = z.infer<typeof BcConfigSchema>;

const td3Shape = {
  ...commonShape,
  policyNoise: z.number().min(0).default(0.2).describe('σ of the target-policy smoothing noise, normalised units (TD3: 0.2)'),
  noiseClip: z.number().min(0).default(0.5).describe('clip of the target-policy smoothing noise (TD3: 0.5)'),
  policyDelay: posInt().default(2).describe('update the actor every d critic updates (TD3: 2)'),
  critics: criticsField(),
};
export const Td3ConfigSchema = z.strictObject(td3Shape);
export type Td3Config = z.infer<typeof Td3ConfigSchema>;

export const Td3BcConfigSchema = z.strictObject({
  ...td3Shape,
  alpha: z.number().positive().default(2.5).describe('α of TD3+BC: actor loss = −α/mean|Q|·Q + (π(s)−a)² (Fujimoto & Gu 2021: 2.5)'),
});
export type Td3BcConfig = z.infer<typeof Td3BcConfigSchema>;

/** TSCAC's auxiliaries by default: the paper's live setting (interactions at γ = 0, §6.1) on this repo's reward spec columns. */
export const TSCAC_DEFAULT_RESPONSES: Response[] = [
  { name: 'like', weight: 10, gamma: 0 },
  { name: 'share', weight: 30, gamma: 0 },
  { name: 'comment', weight: 20, gamma: 0 },
  { name: 'follow', weight: 40, gamma: 0 },
];
export const BEHAVIOR_DENSITIES = ['auto', 'logged', 'fitted'] as const;

/** Two-Stage Constrained Actor-Critic (Cai et al.), offline, Gaussian policies: src/rl/tscac.ts, README §7.2. */
export const TscacConfigSchema = z.strictObject({
  ...commonShape,
  responses: z
    .array(ResponseSchema)
    .min(1)
    .refine((rs) => new Set(rs.map((r) => r.name)).size === rs.length, 'response names must be distinct')
    .default(TSCAC_DEFAULT_RESPONSES)
    .describe(
      'the responses [{name, weight, gamma}, …]: each gets its own V critic on κ·w_i·v_i with its own γ_i; all but mainResponse are the auxiliaries, each with a stage-one policy (paper §6.1: WatchTime γ 0.95 main, interactions γ 0; default: like, share, comment, follow at γ 0)',
    ),
  responseCritic: z
    .enum(RESPONSE_CRITICS)
    .default('separate')
    .describe('separate = one V MLP per response (paper: a value model per response); multihead = one MLP with one output per response'),
  mainResponse: z
    .string()
    .min(1)
    .nullable()
    .default(null)
    .describe('the main response of Eq. (1): null = the logged reward r with `gamma` (the pipeline\'s objective); a name = that `responses` entry (paper: WatchTime)'),
  stageOneSteps: posInt().default(10_000).describe('steps of stage one (critics, auxiliary policies, π_1 cloning the behavior); later steps are stage two (paper: each stage until converged)'),
  advantageTemperature: z.number().positive().default(1).describe(
    'τ of the stage-one actor weight exp(Â_i/τ), Â_i in minibatch sd units (paper Eq. 14 weighs by A_i·π_i/π_β; here AWAC\'s weight, Nair et al. 2020, as the paper cites)',
  ),
  lambdaInit: z.number().positive().default(1).describe('initial Lagrange multiplier λ_i of every auxiliary; Λ = Σλ_i is the temperature of exp(Â_1/Λ) in Eq. (15) (paper §5.3 sweeps 1e-8 … 1e4; no default stated)'),
  klBound: z
    .union([z.number().positive(), z.array(z.number().positive()).min(1)])
    .nullable()
    .default(null)
    .describe('ε_i of Eq. (5): E_s KL(π_1 ‖ π_i) ≤ ε_i in nats, one number or one per auxiliary; null = λ fixed at lambdaInit (the paper fixes λ; no ε stated)'),
  lambdaLr: z.number().min(0).default(0.01).describe('with klBound: dual ascent on log λ_i per stage-two step, += lambdaLr·(KL_i − ε_i)/ε_i, λ kept in [1e-8, 1e4] (paper: no dual update)'),
  weightClip: z.number().positive().default(20).describe('self-normalised actor weights (mean 1 per minibatch) are clipped at this (paper: none; AWR: 20)'),
  behaviorDensity: z
    .enum(BEHAVIOR_DENSITIES)
    .default('auto')
    .describe('π_β(a|s) of Eq. (15): logged = the log\'s action_logp; fitted = π_1 as cloned in stage one; auto = logged where every row has it (paper: the behavior policy)'),
  policyLogStdMin: z.number().default(-5).describe('lower bound of log σ of the Gaussian policies, normalised action units (paper: not stated)'),
  policyLogStdMax: z.number().default(0).describe('upper bound of log σ of the Gaussian policies (0: σ ≤ half the action interval; paper: not stated)'),
});
export type TscacConfig = z.infer<typeof TscacConfigSchema>;

/**
 * Implicit Q-Learning (Kostrikov et al. 2021; src/rl/baselines/iql.ts): the common fields without
 * per-response critics, and IQL's own: the paper's AntMaze τ and β (measured best here, README §11).
 */
const { responses: _responses, responseCritic: _responseCritic, ...iqlCommon } = commonShape;
export const IqlConfigSchema = z.strictObject({
  ...iqlCommon,
  lrActor: z.number().positive().default(3e-4).describe('Adam learning rate of the actor (IQL: 3e-4)'),
  lrCritic: z.number().positive().default(3e-4).describe('Adam learning rate of the twin critics (IQL: 3e-4)'),
  valueHidden: layers().default([256, 256]).describe('hidden ReLU widths of the value network V(s)'),
  lrValue: z.number().positive().default(3e-4).describe('Adam learning rate of V (IQL: 3e-4)'),
  expectile: z.number().gt(0).lt(1).default(0.9).describe('τ of the expectile regression of V onto min_j Q′_j(s, a), Eq. 5 (IQL paper: 0.9 AntMaze, 0.7 MuJoCo; 0.5 = mean, → 1 = max over the data; default from src/rl/README.md §11)'),
  temperature: z.number().min(0).default(10).describe('β of the advantage weights exp(β·A) of the actor, Eq. 7, capped at 100 (IQL paper: 10 AntMaze, 3 MuJoCo; 0 = behavior cloning; default from src/rl/README.md §11)'),
});
export type IqlConfig = z.infer<typeof IqlConfigSchema>;

export const ALGOS = ['bcq', 'bc', 'td3', 'td3bc', 'tscac', 'iql'] as const;
export type AlgoName = (typeof ALGOS)[number];
export const BACKENDS = ['auto', 'tensorflow', 'native', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

export const TrainerConfigSchema = z.strictObject({
  algo: z.enum(ALGOS).default('bcq').describe('algorithm: bcq (BatchRL-MTF), bc (VAE decoder), td3 (no batch constraint), td3bc, tscac (two-stage constrained actor-critic), iql (implicit Q-learning)'),
  steps: posInt().default(100_000).describe('gradient steps (one step = one minibatch for every network)'),
  seed: z.int().min(0).max(0xffffffff).default(0).describe('seed of the one RNG behind init, minibatches and noise'),
  actionInterval: ActionIntervalSchema.default(ACTION_INTERVAL_DEFAULT).describe(
    'pre-defined action box normalised to [−1, 1]: logged α outside are truncated to it, ρ is relative to it, policies output α inside it; "data" = the train split\'s [min, max], {sd: k} = mean ± k·sd per coordinate, {min: [...], max: [...]} explicit (paper: a pre-defined interval, value not given; src/rl/README.md §3.5)',
  ),
  checkpointEvery: posInt().default(5000).describe('write a checkpoint (weights, optimiser, RNG, normalisation, config) every N steps'),
  logEvery: posInt().default(1000).describe('record the curves (losses, Q, actions) and print a log line every N steps'),
  probeStates: posInt().default(1024).describe('train states on which the curves measure π(s) and Q(s, π(s))'),
  backend: z.enum(BACKENDS).default('auto').describe('compute backend; auto = tensorflow → native (OpenBLAS) → wasm → cpu'),
  threads: posInt().default(1).describe('BLAS threads of the native backend'),
  behaviorBox: BehaviorBoxSchema.nullable()
    .default(null)
    .describe('box-aware training (issue 21 §2, UnifiedRL): logs from bounded exploration of half-width h around the live policy μ(s); penalise actor outputs and TD-target actions outside [μ(s) − h, μ(s) + h] (td3, td3bc, iql; src/rl/behaviorBox.ts). null = off'),
  fusedStep: z.boolean().default(true).describe(
    'on the native backend, BCQ (one critic) trains with its whole step as one native call (native/blas/mtf_fused.c); false = the tfjs graph, the reference it agrees with to float rounding',
  ),
});
export type TrainerConfig = z.infer<typeof TrainerConfigSchema>;

export type AlgoConfig = BcqConfig | BcConfig | Td3Config | Td3BcConfig | TscacConfig | IqlConfig;

export const ALGO_SCHEMAS = {
  bcq: BcqConfigSchema,
  bc: BcConfigSchema,
  td3: Td3ConfigSchema,
  td3bc: Td3BcConfigSchema,
  tscac: TscacConfigSchema,
  iql: IqlConfigSchema,
} as const;

/** The full, flat schema of one algorithm's config file: trainer fields + algorithm fields. */
export function runConfigSchema(algo: AlgoName) {
  return TrainerConfigSchema.extend(ALGO_SCHEMAS[algo].shape);
}
export type RunConfig = TrainerConfig & AlgoConfig;

/** Splits a validated flat run config into its trainer part and its algorithm part. */
export function splitRunConfig(run: Record<string, unknown>): { trainer: TrainerConfig; algo: AlgoConfig } {
  const trainer = TrainerConfigSchema.parse(pick(run, Object.keys(TrainerConfigSchema.shape)));
  const schema = ALGO_SCHEMAS[trainer.algo];
  const algo = schema.parse(pick(run, Object.keys(schema.shape))) as AlgoConfig;
  return { trainer, algo };
}

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (k in o) out[k] = o[k];
  return out;
}

/** One line per field: `name (default): doc`, for --help and docs. */
export function describeConfig(schema: z.ZodObject): string[] {
  return Object.entries(schema.shape).map(([k, s]) => {
    const def = (s as z.ZodType).parse(undefined);
    return `${k} (${JSON.stringify(def)}): ${(s as z.ZodType).description ?? ''}`;
  });
}
