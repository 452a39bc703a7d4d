/**
 * loop.json: the nightly loop's state and its per-night records (src/stages/loop.ts). Truth fields are
 * the simulator's (for the study's reader); everything the gate used is in `candidate.v_hat`,
 * `baseline` and `gate`, copied from the night's manifest.
 */
import { z } from 'zod';
import { ALGOS } from '../rl/config.ts';

export const LOOP_FORMAT = 'batchrl-mtf/loop@1';

const ci = z.tuple([z.number(), z.number()]);
const estimate = z.object({ mean: z.number(), ci95: ci });

export const TruthSummary = z.object({
  name: z.string(),
  discounted_return: estimate.describe('true discounted return (γ 0.95) per session, truth sessions'),
  dwell_time: estimate.describe('seconds played per session'),
  interaction_rate: estimate.describe('interactions per request'),
  lift_vs_start: estimate.describe('relative true discounted return against the start constant, paired over the same sessions'),
});
export type TruthSummary = z.infer<typeof TruthSummary>;

const online = z
  .object({ control_sessions: z.int(), discounted_return: estimate })
  .nullable()
  .describe("the day's control-group sessions (arm control: no exploration), their discounted return from the logged rewards: an A/B readout");

export const NightRecord = z.object({
  night: z.int().positive(),
  date: z.string(),
  served: TruthSummary.extend({ id: z.string(), version: z.string().nullable() }).describe('what served the day (its mean α: truth without exploration)'),
  online,
  candidate: z.object({
    kind: z.string().describe("the loop's algorithm (config algo, e.g. bcq), or the injected bad candidate of a stress night"),
    version: z.string().nullable(),
    truth: TruthSummary.nullable(),
    lift_vs_served: estimate.nullable().describe('true discounted return of the candidate relative to the served version, paired'),
    v_hat: z.object({ v_hat: z.number(), ci95: ci.nullable() }).nullable().describe("the OPE report's V̂ of the candidate"),
  }),
  baseline: z.object({ name: z.string(), role: z.string(), v_hat: z.number(), ci95: ci.nullable() }).nullable().describe('what the gate compared with (the served model, or the start constant before the first publish)'),
  gate: z.object({
    decision: z.enum(['published', 'rejected', 'refused']).describe('refused: the export refused before the gate (e.g. a wrong β)'),
    reason: z.string(),
    lower_bound: z.number().nullable(),
    threshold: z.number().nullable(),
  }),
  current_after: z.string().nullable(),
  verdict: z.object({
    harmful: z.boolean().describe('published, and the paired 95% CI of the truth lift vs the served version lies below 0'),
    below_served: z.boolean().describe('published with a true mean below the served version (CI may include 0)'),
    wrongly_rejected: z.boolean().describe('rejected by the gate although truly better than the served version by > 1% (a refused export does not count: its truth is not that of the function that would ship)'),
  }),
  seconds: z.object({ simulate: z.number(), pipeline: z.number(), truth: z.number(), total: z.number() }),
});
export type NightRecord = z.infer<typeof NightRecord>;

export const LoopConfig = z.object({
  dir: z.string(),
  start: z.enum(['tuned', 'hand-tuned']),
  size: z.enum(['tiny', 'demo']),
  sizes: z.object({
    sessionsPerDay: z.int(),
    trainSteps: z.int(),
    hidden: z.array(z.int()),
    fqeIterations: z.int(),
    bootstrap: z.int(),
    bootstrapIterations: z.int(),
    truthSessions: z.int(),
  }),
  stress: z.boolean(),
  seed: z.int(),
  tolerance: z.number().min(0),
  gate: z.enum(['interval', 'paired']).optional().describe('the gate\'s value check (absent: interval)'),
  exploration: z
    .enum(['gaussian', 'uniform'])
    .optional()
    .describe("--exploration: the published manifests' and the warm-up constant's exploration preset, gaussian = the paper's arms, uniform = bounded uniform (issue 21 §3) (absent: gaussian, loops before issue 21)"),
  algo: z.enum(ALGOS).optional().describe('--algo: the nightly training algorithm (absent: bcq)'),
  trainConfig: z.record(z.string(), z.unknown()).optional().describe("--train-config: fields merged into the pipeline's train.config (absent: none)"),
  truthSeed: z.int(),
  firstNight: z.string(),
  startAlpha: z.array(z.number()),
});
export type LoopConfig = z.infer<typeof LoopConfig>;

export const LoopState = z.object({
  format: z.literal(LOOP_FORMAT),
  config: LoopConfig,
  references: z.object({ start: TruthSummary, tuned: TruthSummary, segments: TruthSummary, lookahead: TruthSummary }).nullable(),
  warmup: z.boolean(),
  /** a night whose traffic was simulated but whose record is not written yet */
  pending: z.object({ night: z.int(), served: z.string().nullable(), online }).nullable().optional(),
  nights: z.array(NightRecord),
});
export type LoopState = z.infer<typeof LoopState>;
