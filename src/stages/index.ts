/**
 * Public API of the pipeline stages: the run record (claim, stage records, outcome), the stage
 * functions the BullMQ processors and the embedded runner share, and the embedded runner itself.
 */
export {
  STAGES,
  RUN_RECORD_FORMAT,
  RunRecord,
  StageRecord,
  DATE_RE,
  claimRun,
  readRunRecord,
  readStage,
  listStages,
  listRuns,
  scanRuns,
  runOutcome,
  runDirs,
  runIdOf,
  specOf,
  stageStarted,
  stageFinished,
  workerName,
  type RunSpec,
  type RunOutcome,
  type ClaimResult,
  type RunEntry,
  type StageName,
} from './run.ts';
export { planIngest, ingestShardStage, mergeStage, planMergeStage, mergeBucketStage, finishMergeStage, bucketPartDir, trainStage, evaluateStage, loadEvaluation, publishStage, versionOf, candidateName, type StageContext } from './stages.ts';
export { fitsDir, planEvaluateFits, evaluateFitStage, assembleEvaluation } from './evaluateFits.ts';
export { runEmbedded, recordedStage, type EmbeddedOptions, type EmbeddedResult } from './embedded.ts';
