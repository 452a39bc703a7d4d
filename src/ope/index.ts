/**
 * Public API of off-policy evaluation (issue 5): BatchRL-MTF's conservative FQE (Algorithm 2,
 * Eq. 9–10) with session-bootstrap intervals, importance-sampling cross-checks, an
 * out-of-distribution indicator, and the analysts' report (ope-report.json + ope-report.html).
 * Importing this module loads tfjs; the CLI imports it lazily.
 */
export { evaluatePolicies, decide, type EvaluateOptions } from './evaluate.ts';
export { fitFqe, computeFqeTarget, computeFqeLoss, sampleFqeMinibatch, type FqeFit, type FqeFitOptions, type FqeCurves, type FqeMinibatch } from './fqe.ts';
export { prepareOpeData, opeDataOptions, sessionIndex, sessionStarts, discountedReturns, sessionTotals, withQInputs, type OpeData, type PrepareOptions, type QInputs } from './data.ts';
export {
  behaviorPolicy,
  constantPolicy,
  fnPolicy,
  loadEvalPolicy,
  policyActions,
  POLICY_SPEC_HELP,
  type EvalActFn,
  type EvalPolicy,
  type PolicyActions,
} from './policies.ts';
export { bootstrapInterval, chooseStarts, meanInterval, quantile, resampleCounts, resampleRows, resampleSeed, type Interval } from './bootstrap.ts';
export { kernelBandwidth, kernelLogDensity, weightedEstimates, type WeightedEstimates, type WeightedOptions } from './importance.ts';
export { buildNeighbourhoods, histogramEdges, nearestActionDistance, oodSummary, summarizeActions, supportWeights, type ActionSummary, type Neighbourhoods, type OodSummary } from './ood.ts';
export { describeOpeConfig, FqeConfigSchema, OpeConfigSchema, type FqeConfig, type OpeConfig, type OpeConfigInput } from './config.ts';
export { OPE_REPORT_FORMAT, OpePolicyResult, OpeReport, renderOpeReportSchema } from './schemas.ts';
export { REPORT_CSV, REPORT_CSV_COLUMNS, REPORT_HTML, REPORT_JSON, opeReportCsv, writeOpeReport } from './report.ts';
export { assess, convergenceFlag, policyFlags, FLAG_EXPLANATIONS, MIN_ESS_SHARE, MIN_REFITS, type Assessment, type Flag, type FlagCode } from './assess.ts';
export { pairwiseComparisons, tieAwareRanks, type PairComparison, type RankInput, type TieRank } from './ranking.ts';
export { controlGroups, CONTROL_ARM, type ControlGroup } from './control.ts';
export { renderHtml } from './html.ts';
export { meanRelativeError, ranks, regretAt1, spearman } from './metrics.ts';
