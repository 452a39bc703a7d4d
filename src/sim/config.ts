/**
 * The simulator's configuration: one zod schema per part (type + default + range + one-line doc).
 * `SimConfigSchema.parse({})` gives every default; README.md lists them with the equations they
 * enter. Self-contained so that src/config/ can gather it later.
 */
import { z } from 'zod';

/** The k = 8 prediction tasks, in the order of `o` and of the fusion weights α (action_names). */
export const TASK_NAMES = ['long_play', 'finish', 'like', 'share', 'comment', 'follow', 'skip_inv', 'play_time'] as const;
export const NUM_TASKS = TASK_NAMES.length;

/** Interactions, in the order of the per-type intercepts and item traits. */
export const INTERACTIONS = ['like', 'share', 'comment', 'follow'] as const;

const finite = () => z.number().refine(Number.isFinite, 'must be a finite number');
const vec = (n: number) => z.array(finite()).length(n);

export const UserTypeSchema = z.object({
  name: z.string().min(1).describe('label of the latent response style'),
  share: z.number().positive().describe('relative frequency of the type among users'),
  skipBias: finite().describe('b_skip: intercept of the skip logit'),
  playBias: finite().describe('b_μ: intercept of the log play-ratio shape μ'),
  durationSens: finite().describe('ν: how much longer videos lower μ (positive = prefers short videos)'),
  skipDurationSens: finite().describe('ν_s: how much longer videos raise the skip logit'),
  lure: finite().describe('λ: how much clickbait raises μ and lowers the skip logit (the hook)'),
  clickbaitHurt: finite().describe('ω_c: satisfaction lost per unit of clickbait watched'),
  interactBias: vec(4).describe('b_like, b_share, b_comment, b_follow: interaction logit intercepts'),
  interactSat: finite().describe('ω_i: satisfaction gained per interaction'),
  leaveBias: finite().describe('b_leave: intercept of the leave logit'),
  fatigueTime: finite().describe('φ_t: fatigue per minute watched'),
  repeatSens: finite().describe('κ_R: engagement lost per unit of recent exposure to the same topic'),
});
export type UserType = z.infer<typeof UserTypeSchema>;

/** Default response styles: mostly-watch, interact, skim short videos, binge long ones. */
export const DEFAULT_USER_TYPES: UserType[] = [
  {
    name: 'watcher', share: 0.35, skipBias: -1.0, playBias: 0.6, durationSens: 0.3, skipDurationSens: 0.3, lure: 1.2,
    clickbaitHurt: 1.2, interactBias: [-3.8, -6.5, -6.0, -7.0], interactSat: 0.2, leaveBias: -4.3, fatigueTime: 0.1, repeatSens: 0.3,
  },
  {
    name: 'interactor', share: 0.25, skipBias: -1.0, playBias: 0.4, durationSens: 0.3, skipDurationSens: 0.3, lure: 0.6,
    clickbaitHurt: 2.5, interactBias: [-1.8, -4.0, -3.5, -4.5], interactSat: 0.5, leaveBias: -4.1, fatigueTime: 0.1, repeatSens: 0.3,
  },
  {
    name: 'skimmer', share: 0.2, skipBias: -0.4, playBias: 0.6, durationSens: 1.6, skipDurationSens: 1.2, lure: 1.5,
    clickbaitHurt: 1.0, interactBias: [-3.8, -6.5, -6.0, -7.0], interactSat: 0.2, leaveBias: -3.8, fatigueTime: 0.4, repeatSens: 0.5,
  },
  {
    name: 'binger', share: 0.2, skipBias: -1.5, playBias: 0.8, durationSens: -1.2, skipDurationSens: -0.6, lure: 1.0,
    clickbaitHurt: 0.3, interactBias: [-3.4, -6.0, -5.5, -6.5], interactSat: 0.2, leaveBias: -4.5, fatigueTime: 0.05, repeatSens: 0.2,
  },
];

export const DynamicsConfigSchema = z.object({
  satDecay: z.number().min(0).max(1).default(0.8).describe('λ_S: satisfaction carried to the next view'),
  satRatio: finite().default(0.8).describe('ω_r: satisfaction per unit of play ratio above 0.5'),
  satFinish: finite().default(0.3).describe('ω_f: satisfaction from finishing the video'),
  satQuality: finite().default(0.25).describe('ω_q: satisfaction per unit of item quality watched'),
  satSkip: finite().default(0.3).describe('ω_s: satisfaction lost on a skip'),
  satEffect: finite().default(0.4).describe('κ_S: engagement gained per unit of satisfaction'),
  fatigueEffect: finite().default(0.3).describe('κ_F: engagement lost per unit of fatigue'),
  fatigueBase: z.number().min(0).default(0.02).describe('φ_0: fatigue added by every view'),
  fatigueRepeat: z.number().min(0).default(0.06).describe('φ_r: fatigue per unit of recent exposure to the shown topic'),
  recencyDecay: z.number().min(0).max(1).default(0.75).describe('λ_R: per-view decay of the recent exposure to each topic'),
  leaveFatigue: finite().default(0.6).describe('ℓ_F: leave logit per unit of fatigue'),
  leaveSat: finite().default(0.8).describe('ℓ_S: leave logit lost per unit of satisfaction'),
  leaveSkip: finite().default(0.4).describe('ℓ_skip: leave logit added by a skip'),
  startSatSd: z.number().min(0).default(0.3).describe('sd of the satisfaction a session starts with'),
});

export const PredictionConfigSchema = z.object({
  systematicSd: z.number().min(0).default(0.35).describe('sd (logit) of the ranking models’ fixed error per item and task'),
  pairSd: z.number().min(0).default(0.35).describe('sd (logit) of the error per (session, candidate, task)'),
  longPlayS: z.number().positive().default(15).describe('T_long: seconds of play that count as a long play'),
  playTimeScaleS: z.number().positive().default(30).describe('τ_pt: play_time task = 1 − exp(−E[play time]/τ_pt)'),
});

export const WorldConfigSchema = z.object({
  seed: z.number().int().min(0).default(20240611).describe('world seed: users, items, response model (fixed default)'),
  users: z.number().int().min(1).default(10_000).describe('number of users'),
  items: z.number().int().min(1).default(20_000).describe('number of items in the catalog'),
  topics: z.number().int().min(1).max(256).default(16).describe('number of content topics'),
  topicPopularity: z.number().min(0).default(0.7).describe('topic t has popularity ∝ (t + 1)^−x'),
  durationRefS: z.number().positive().default(20).describe('d_ref: reference duration in ℓ = log(d / d_ref)'),
  durationLogSd: z.number().min(0).default(0.65).describe('sd of log duration around log(d_ref) + topic shift'),
  durationMinS: z.number().positive().default(5).describe('shortest video, seconds'),
  durationMaxS: z.number().positive().default(240).describe('longest video, seconds'),
  clickbaitPower: z.number().positive().default(4).describe('clickbait c = U^x (most items near 0, a tail near 1)'),
  clickbaitQuality: finite().default(0.8).describe('quality lost per unit of clickbait'),
  interestSd: z.number().min(0).default(1.3).describe('sd of the per-topic interest logits (higher = more focused users)'),
  interestScale: finite().default(0.5).describe('ι: engagement per unit of log interest η'),
  qualityEffect: finite().default(0.5).describe('κ_q: engagement per unit of quality'),
  patienceSd: z.number().min(0).default(0.4).describe('sd of a user’s own offset of the leave logit'),
  activitySd: z.number().min(0).default(0.8).describe('sd of log activity (sessions per day ∝ activity)'),
  styleJitterSd: z.number().min(0).default(0.15).describe('sd of a user’s own deviation from the type’s intercepts'),
  types: z.array(UserTypeSchema).min(1).default(DEFAULT_USER_TYPES).describe('latent response styles'),
  dynamics: DynamicsConfigSchema.prefault({}),
  prediction: PredictionConfigSchema.prefault({}),
});
export type WorldConfig = z.infer<typeof WorldConfigSchema>;

/** Default diurnal profile of session starts (relative weight of each UTC hour). */
export const DEFAULT_HOUR_WEIGHTS = [3, 2, 1.2, 0.8, 0.6, 0.6, 1, 2, 3, 3.5, 3.5, 4, 5, 4.5, 4, 4, 4.5, 5, 6, 7, 8, 8, 7, 5];

export const SessionConfigSchema = z
  .object({
    candidates: z.number().int().min(1).default(100).describe('candidates ranked per request'),
    refresh: z.number().int().min(1).default(4).describe('fresh candidates per request: the shown one’s replacement and (refresh − 1) random others'),
    retrievalInterest: z.number().min(0).max(1).default(0.8).describe('share of fresh candidates drawn by the user’s topic interests (rest: uniform)'),
    beta: vec(8).default([0.05, 0.05, 0.02, 0.01, 0.01, 0.01, 0.05, 0.05]).describe('β_i of Eq. 1: f = Σ α_i log(o_i + β_i)'),
    maxSteps: z.number().int().min(1).default(300).describe('hard cap on requests per session (the session then ends)'),
    slots: z.number().int().min(1).default(128).describe('sessions simulated in parallel = the policy’s batch (small keeps the candidates in cache)'),
    gapOverheadS: z.number().min(0).default(2).describe('seconds between the end of a view and the next request (plus Exp(mean 3 s))'),
    hourWeights: z.array(z.number().min(0)).length(24).default(DEFAULT_HOUR_WEIGHTS).describe('relative weight of each UTC hour for session starts'),
  })
  .refine((s) => s.refresh <= s.candidates, { message: 'refresh must be at most candidates', path: ['refresh'] });
export type SessionConfig = z.infer<typeof SessionConfigSchema>;

/**
 * The hand-tuned production α of the legacy scenario: heavy on the play tasks, as a watch-time team
 * that never tuned its weights would set them (and clickbait-prone).
 */
export const HAND_TUNED_PRODUCTION_ALPHA: readonly number[] = [1.0, 0.5, 0.4, 0.2, 0.2, 0.2, 0.5, 1.2];

/**
 * The tuned production α of the default scenario (the paper's setting: users run one constant α tuned
 * by black-box optimisation): CMA-ES on the true discounted return from the hand-tuned α, scaled to
 * its sum (test/sim/calibrate.ts; how, and its value on held-out sessions: README §4).
 */
export const TUNED_PRODUCTION_ALPHA: readonly number[] = [0.0541, 0.238, 0.445, 0.553, 0.357, 0.656, 0.193, 1.7];

/** The named worlds' production policies (`mtf simulate --scenario`). */
export const SCENARIOS = {
  'tuned-production': { productionAlpha: TUNED_PRODUCTION_ALPHA, doc: "the paper's setting: production is the constant α tuned on true discounted return" },
  'hand-tuned-production': { productionAlpha: HAND_TUNED_PRODUCTION_ALPHA, doc: 'legacy: a team that never tuned its weights runs the hand-set watch-time α' },
} as const;
export type ScenarioName = keyof typeof SCENARIOS;
export const DEFAULT_SCENARIO: ScenarioName = 'tuned-production';

/** The production α of the default scenario (the behavior policy's mean). */
export const DEFAULT_PRODUCTION_ALPHA: readonly number[] = SCENARIOS[DEFAULT_SCENARIO].productionAlpha;

export const BehaviorConfigSchema = z.object({
  productionAlpha: vec(8).default([...DEFAULT_PRODUCTION_ALPHA]).describe('the constant production α when no --policy model is given (default: the tuned one)'),
  randomShare: z.number().min(0).max(1).default(0.5).describe('share of sessions in the random-exploration arm (rest: action noise)'),
  randomSd: z.number().positive().default(0.3).describe('random exploration: α ~ N(production α, randomSd² I) per request'),
  noiseSd: z.number().positive().default(0.1).describe('action-noise exploration: α = production α + N(0, noiseSd² I) per request'),
});
export type BehaviorConfig = z.infer<typeof BehaviorConfigSchema>;

export const SimConfigSchema = z.object({
  world: WorldConfigSchema.prefault({}),
  session: SessionConfigSchema.prefault({}),
  behavior: BehaviorConfigSchema.prefault({}),
});
export type SimConfig = z.infer<typeof SimConfigSchema>;
export type SimConfigInput = z.input<typeof SimConfigSchema>;

/**
 * The reward spec of the demo and of ground truth: r = Σ w_i · v_i (paper Eq. 2) over these feedback
 * columns. Ingest the simulator's logs with exactly `formatRewardWeights({ weights: REWARD_WEIGHTS })`.
 */
export const REWARD_WEIGHTS: Readonly<Record<'play_time_s' | 'like' | 'share' | 'comment' | 'follow', number>> = Object.freeze({
  play_time_s: 1,
  like: 10,
  share: 30,
  comment: 20,
  follow: 40,
});

/** γ of the discounted return that ground truth reports. */
export const GAMMA = 0.95;
