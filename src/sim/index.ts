/**
 * The session simulator's public API (README.md documents the model, every equation and default).
 * Later stages use it to make logs, to plug trained policies in (`batchPolicy`, `onnxPolicy`) and to
 * measure their true value (`groundTruth`, `compareTruth`).
 */
export {
  BehaviorConfigSchema,
  DEFAULT_PRODUCTION_ALPHA,
  DEFAULT_SCENARIO,
  HAND_TUNED_PRODUCTION_ALPHA,
  SCENARIOS,
  TUNED_PRODUCTION_ALPHA,
  DynamicsConfigSchema,
  GAMMA,
  NUM_TASKS,
  PredictionConfigSchema,
  REWARD_WEIGHTS,
  SessionConfigSchema,
  SimConfigSchema,
  TASK_NAMES,
  WorldConfigSchema,
  type BehaviorConfig,
  type ScenarioName,
  type SessionConfig,
  type SimConfig,
  type SimConfigInput,
  type WorldConfig,
} from './config.ts';
export { createWorld, defaultWorld, type World } from './world.ts';
export { STATE_DIM, STATE_NAMES } from './features.ts';
export { rollout, type Engine, type RewardWeights, type RolloutOptions, type RolloutResult, type StepRecorder } from './engine.ts';
export { asPolicy, batchPolicy, type BatchPolicyFn, type CandidateScores, type FusionPolicy, type PolicyContext } from './policy.ts';
export { ARMS, behaviorPolicy, constantPolicy, lookaheadPolicy, myopicPolicy, oraclePolicy, type BehaviorPolicyOptions } from './policies.ts';
export { onnxPolicy, ONNX_INPUT, ONNX_OUTPUT, type OnnxPolicyOptions } from './onnxPolicy.ts';
export { scorerPolicy, type ScorerPolicyOptions } from './scorerPolicy.ts';
export { compareResults, compareTruth, groundTruth, summarize, TRUTH_METRICS, type Comparison, type Estimate, type TruthOptions, type TruthReport } from './truth.ts';
export { formatDate, parseDate, simulateDays, simulateLogs, type LogFile, type SimulateDaysOptions, type SimulateLogsOptions, type SimulateLogsReport } from './logs.ts';
export { META_ACTION_NAMES, META_BETA, META_SIM, META_STATE_NAMES } from './parquet.ts';
export { CmaEs, type CmaEsOptions, type CmaEsState } from './cmaes.ts';
export {
  maximize,
  meanObjective,
  normalizeAlpha,
  SEARCH_RUN_TAG,
  tuneConstantAlpha,
  type GenerationInfo,
  type MaximizeOptions,
  type MaximizeResult,
  type TuneConstantOptions,
  type TuneConstantResult,
  type TuneObjective,
} from './tune.ts';
export { BEST_CONSTANT_ALPHA, LOOKAHEAD_CONTINUATION, ORACLE_ALPHA_BY_TYPE, referencePolicies, type ReferencePolicyName } from './calibrated.ts';
export { parseAlpha, policyFromSpec, POLICY_SPEC_HELP } from './policySpec.ts';
export { REWARD_SPEC } from './rewardSpec.ts';
