/** Public API of the data stage: the log contract, ingest, and the trajectory files it writes. */
export { ingest, INGEST_DEFAULTS, type IngestOptions, type IngestResult } from './ingest.ts';
export { parseRewardWeights, formatRewardWeights, type RewardSpec } from './rewardSpec.ts';
export { listLogFiles, windowBounds, parseDate, type LogWindow, type LogFile } from './partitions.ts';
export { LOG_CONTRACT, LOG_CONTRACT_VERSION, FEEDBACK_TYPES, type ContractColumn } from './logContract.ts';
export { REJECT_REASONS, type RejectReason } from './rowChecks.ts';
export { readTrajectories, type Split } from './trajectoryStore.ts';
export { IngestReport, TrajectoryMetadata, VectorStatsSchema } from './reportSchemas.ts';
export type { TransitionBatch } from './trajectoryTypes.ts';
