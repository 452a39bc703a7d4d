/**
 * Public API of the fusion scorer for the ranking stack (issue 6 §3): FusionScorer over the model
 * store, and the optional HTTP endpoint of `mtf serve`. Loads onnxruntime-node, never TensorFlow.js.
 */
export { FusionScorer, NO_EXPLORATION_ARM, type FusionScorerOptions, type ScoreResult, type SessionScoreResult } from './scorer.ts';
export { buildApp, startServer, parseScoreBody, type ServeOptions, type RunningServer } from './http.ts';
export { SERVE_DEFAULTS } from './defaults.ts';
export { validateScoreInput, FLOAT32_MAX, NO_LIMITS, type ScoreLimits, type ScoreSignature } from './validate.ts';
export {
  ARM_KINDS,
  DEFAULT_EXPLORATION,
  DEFAULT_EXPLORATION_KEY,
  EXPLORATION_PRESETS,
  ExplorationArmSchema,
  ExplorationSettingsSchema,
  PublishedExplorationSchema,
  SHARE_SUM_TOLERANCE,
  UNIFORM_EXPLORATION,
  UNIFORM_HALF_WIDTH,
  actionLogp,
  armActionLogp,
  assignArm,
  defaultPublishedExploration,
  explore,
  exploreRequest,
  exploreRows,
  isUniformArm,
  publishedExploration,
  uniformActionLogp,
  parseExplorationSettings,
  policyId,
  sessionIdText,
  sessionUniform,
  type ArmKind,
  type ArmSpread,
  type ExplorationArm,
  type ExplorationDecision,
  type ExplorationPreset,
  type ExploredRows,
  type GaussianArm,
  type UniformArm,
  type ExplorationSettings,
  type PublishedExploration,
} from './exploration.ts';
