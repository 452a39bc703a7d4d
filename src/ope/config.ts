/**
 * Every hyperparameter of off-policy evaluation: type + default + range + one line of doc (the doc
 * becomes `mtf evaluate --help-config` text). Defaults of the estimator are BatchRL-MTF's Appendix A
 * (Conservative-OPEstimator, Algorithm 2); where the paper says nothing the choice and its reason are
 * in the doc, and src/ope/README.md lists every deviation.
 */
import { z } from 'zod';

const posInt = () => z.int().positive();

export const FqeConfigSchema = z.strictObject({
  alpha: z
    .number()
    .min(0)
    .default(5e-3)
    .describe('α of the CQL penalty in Eq. (9), acting on Q in scaled units (paper App. A: 5e-4; 5e-3 measured, src/ope/README.md deviation 6)'),
  penalty: z
    .enum(['linear', 'logsumexp'])
    .default('logsumexp')
    .describe('CQL penalty: linear = Eq. (9) as printed, α·(Q(s,π_e(s)) − Q(s,a)); logsumexp = CQL(H) over {a, π_e(s)}, α·τ·softplus((Q(s,π_e(s)) − Q(s,a))/τ), which stops pushing once π_e\'s action is valued τ·few below the logged one (paper: linear)'),
  temperature: z
    .number()
    .positive()
    .default(0.01)
    .describe('τ of the logsumexp penalty in scaled Q units (1 = mean|r|/(1−γ); 0.01 ≈ a fifth of a mean step\'s reward); linear ignores it (not in the paper)'),
  penaltySupport: z
    .enum(['off', 'nearest'])
    .default('nearest')
    .describe('fade the penalty where the logged data cover π_e(s): nearest = weight row i\'s penalty by w_i = clamp((d_i/t − lo)/(hi − lo), 0, 1), d_i the distance of π_e(s_i) to the nearest logged action of the fqe.supportNeighbours nearest logged states, t the oodQuantile of the same distance for the logged actions, [lo, hi] = fqe.supportRamp (CQL\'s fixed point Q − α(π_e/β − 1): no penalty where the data vouch); off = every row weight 1, the estimator before it (not in the paper; src/ope/README.md deviation 7)'),
  supportRamp: z
    .tuple([z.number().min(0), z.number().positive()])
    .default([1, 2])
    .refine(([lo, hi]) => hi > lo, 'supportRamp: hi must exceed lo')
    .describe('[lo, hi] of penaltySupport in units of the threshold t: weight 0 up to lo·t, 1 from hi·t, linear between'),
  supportFloor: z
    .number()
    .min(0)
    .max(1)
    .default(0.5)
    .describe('penaltySupport: the least weight of a row\'s penalty, also where the data cover π_e(s): w_i = floor + (1 − floor)·ramp_i (0 = no penalty in distribution, deviation 7 as first built; 0.5 = half the penalty where the data cover π_e: the conservative margin the three-log study restored, src/ope/README.md "Can it be trusted?")'),
  supportNeighbours: posInt().default(50).describe('penaltySupport: logged neighbours (nearest states) of every row whose actions count as support'),
  supportReference: posInt().default(5000).describe('penaltySupport: logged rows searched for neighbours (a seeded sample when the split is larger)'),
  clipValues: z
    .boolean()
    .default(true)
    .describe('clip Q′ in the target and Q in the read-out to the feasible range [min(0, min r), max(0, max r)]/(1−γ) of the logged rewards (paper: no clipping)'),
  iterations: posInt().default(5000).describe('K: gradient steps of FQE (paper App. A: 5000)'),
  batchSize: posInt().default(512).describe('m: transitions per minibatch (paper App. A: 512)'),
  lr: z.number().positive().default(1e-4).describe('Adam learning rate of Q (paper App. A: 1e-4)'),
  gamma: z.number().min(0).lt(1).default(0.95).describe('discount factor γ (paper App. A: 0.95)'),
  initialStates: posInt().default(5000).describe('n: initial states s₀ averaged in Eq. (10) (paper App. A: 5000; all session starts when fewer)'),
  actionInput: z
    .enum(['box', 'standard'])
    .default('box')
    .describe('how actions enter Q: box = the logged [min, max] mapped to [−1, 1] as training does; standard = z-scores (train mean/std), which gives the action inputs the states\' scale (not in the paper; src/ope/README.md, "Open")'),
  hidden: z.array(posInt()).min(1).default([256, 256]).describe('hidden ReLU widths of Q (not in the paper: the training critics\' [256, 256])'),
  targetUpdateInterval: posInt().default(1).describe('refresh the target network every L steps (1 with targetEta 1 = no target network, as Algorithm 2)'),
  targetEta: z.number().gt(0).max(1).default(1).describe('target update rate η: Q′ ← η·Q + (1−η)·Q′ (1 = copy; paper: no target network)'),
  averageLast: z
    .number()
    .min(0)
    .lt(1)
    .default(0.5)
    .describe('read V̂ from the mean of Q\'s weights over this last share of the iterations (Polyak–Ruppert; 0 = the last iterate)'),
  perResponse: z.boolean().default(true).describe('also fit one head per feedback column (TSCAC multi-critic) for per-response values'),
  actionSamples: posInt().default(5).describe('actions drawn per state from a stochastic π_e (deterministic policies use 1)'),
  adamBeta1: z.number().min(0).lt(1).default(0.9).describe('Adam β1 (PyTorch default)'),
  adamBeta2: z.number().min(0).lt(1).default(0.999).describe('Adam β2 (PyTorch default)'),
  adamEps: z.number().positive().default(1e-8).describe('Adam ε (PyTorch default)'),
  logEvery: posInt().default(100).describe('record the training curves (TD loss, penalty, V̂) every N steps'),
  seed: z.int().min(0).max(0xffffffff).default(0).describe('seed of the one RNG behind initialisation, minibatches and resamples'),
});
export type FqeConfig = z.infer<typeof FqeConfigSchema>;

export const OpeConfigSchema = z.strictObject({
  fqe: FqeConfigSchema.prefault({}),
  bootstrap: z.int().min(2).default(20).describe('B: bootstrap resamples of the sessions, each an FQE refit on a full-size resample'),
  bootstrapIterations: posInt().nullable().default(1000).describe('FQE steps per bootstrap refit (null = fqe.iterations)'),
  bootstrapWarmStart: z.boolean().default(true).describe('start each refit from the full-data fit (converges in ~1000 steps; false = a fresh initialisation)'),
  isBandwidth: z.number().positive().nullable().default(null).describe('kernel bandwidth of importance sampling, in std of each action dim (null = Scott\'s rule)'),
  isHorizon: posInt().default(100).describe('importance-sampling horizon: steps after which a session\'s rewards are left out'),
  oodStates: posInt().default(2000).describe('test states on which the out-of-distribution share is measured'),
  oodNeighbours: posInt().default(50).describe('logged neighbours (nearest states) whose actions count as "in distribution"'),
  oodReference: posInt().default(20000).describe('logged rows searched for neighbours (a seeded sample when the split is larger)'),
  oodQuantile: z.number().gt(0).lt(1).default(0.95).describe('far = farther from every neighbour action than this quantile of the logged actions\' own distance'),
  histogramBins: posInt().default(30).describe('bins of the per-dimension action histograms'),
  shipMaxOod: z.number().min(0).max(1).default(0.2).describe('verdict: a policy with a larger out-of-distribution share is not shipped'),
  backend: z.enum(['auto', 'tensorflow', 'native', 'wasm', 'cpu']).default('auto').describe('compute backend (as mtf train)'),
  threads: posInt().default(1).describe('BLAS threads of the native backend'),
  workers: z
    .union([z.literal('auto'), posInt()])
    .default('auto')
    .describe('worker threads fitting FQE in parallel (the policies\' fits and bootstrap refits; results do not depend on it): auto = one per core when the test split has ≥ 20,000 rows, else none (a worker\'s start costs ~1–2 s)'),
});
export type OpeConfig = z.infer<typeof OpeConfigSchema>;
export type OpeConfigInput = z.input<typeof OpeConfigSchema>;

/** One line per field: `name (default): doc`, for --help-config. */
export function describeOpeConfig(): string[] {
  const line = (prefix: string, shape: Record<string, z.ZodType>) =>
    Object.entries(shape)
      .filter(([k]) => k !== 'fqe')
      .map(([k, s]) => `${prefix}${k} (${JSON.stringify(s.parse(undefined))}): ${s.description ?? ''}`);
  return [...line('fqe.', FqeConfigSchema.shape as unknown as Record<string, z.ZodType>), ...line('', OpeConfigSchema.shape as unknown as Record<string, z.ZodType>)];
}
