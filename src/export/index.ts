/**
 * Public API of the ONNX export and the model store (issue 6): the exported graphs, the checks and the
 * gate, the store's layout and its readers. Importing it loads neither TensorFlow.js nor the data
 * readers (exportModel loads them when it runs), so the serving side can use the store functions.
 */
export { exportModel, type ExportOptions } from './exporter.ts';
export { fusionModel, latentSamples, DEFAULT_BETA, DEFAULT_LATENT_SEED, type FusionModel, type FusionModelOptions } from './model.ts';
export { policyGraph, scorerGraph, STATE_INPUT, TASK_SCORES_INPUT, WEIGHTS_OUTPUT, SCORES_OUTPUT, GRAPH_FORMAT, type GraphInfo } from './graphs.ts';
export { ReferenceModel, fuseScores, type ReferenceOutput } from './reference.ts';
export { checkParity, checkActions, checkStates, isNearTie, type ParityOptions, type ParityResult, type ActionCheck } from './checks.ts';
export { decide, GateRejectedError, DEFAULT_TOLERANCE, type GateInput } from './gate.ts';
export { readOpeReport, pickCandidate, pickBaseline, BEHAVIOR_NAMES, type OpeEntry, type OpeSummary } from './opeReport.ts';
export { ManifestSchema, MANIFEST_FORMAT, MODEL_FILES, renderManifestSchema, type Manifest, type ModelFile } from './manifest.ts';
export {
  writeVersion,
  setCurrent,
  readVersion,
  readCurrent,
  readCurrentState,
  listVersions,
  nextVersion,
  applyRetention,
  checkName,
  modelDir,
  sha256,
  ModelStoreError,
  CURRENT_FILE,
  MANIFEST_FILE,
  LOCK_FILE,
  DEFAULT_KEEP,
  type CurrentState,
  type SetCurrentInput,
  type SetCurrentResult,
  type StoredVersion,
  type WriteVersionInput,
  type WrittenVersion,
} from './store.ts';
export { withPublishLock, type PublishLock, type HeldLock, type PublishTarget, type StoreLeaseOptions } from './lock.ts';
export { inspectModel, listModelNames, modelProblems, type ModelInfo, type VersionInfo } from './admin.ts';
export { OPSET, IR_VERSION, PRODUCER, describeModel } from './onnx/builder.ts';
export { createSession, type SessionOptions } from './onnx/runtime.ts';
