/**
 * Public API of batchrl-mtf's batch RL (issue 4): train a fusion policy from a TransitionBatch, get a
 * batch function α = π(s) in logged units, reload it from a checkpoint, read its weights for export.
 */
export { train, NonFiniteError, type TrainOptions, type TrainResult } from './trainer.ts';
export { Policy, POLICY_FORMAT, type PolicyFn, type PolicySpec } from './policy.ts';
export { loadPolicy } from './load.ts';
export { DEFAULT_LATENT_SEED, latentSamples } from './latent.ts';
export type { PolicyNetworks } from './algorithm.ts';
export type { LayerSpec } from './networks/mlp.ts';
export {
  ALGOS,
  BACKENDS,
  BcqConfigSchema,
  BcConfigSchema,
  Td3ConfigSchema,
  Td3BcConfigSchema,
  TscacConfigSchema,
  TrainerConfigSchema,
  ResponseSchema,
  runConfigSchema,
  describeConfig,
  type AlgoName,
  type BackendName,
  type BcqConfig,
  type BcConfig,
  type Td3Config,
  type Td3BcConfig,
  type TscacConfig,
  type TrainerConfig,
  type Response,
} from './config.ts';
export { initBackend, type BackendInfo } from './backend.ts';
export { normalizationFromStats, type Normalization, type DimStats } from './normalization.ts';
export { REPORT_FORMAT, type TrainingReport, type Curves } from './report.ts';
export { CHECKPOINT_FORMAT } from './checkpoint.ts';
