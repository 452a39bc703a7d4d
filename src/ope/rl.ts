/**
 * The training machinery OPE reuses (STYLE: "OPE (FQE) reuses the training machinery instead of
 * duplicating it"): Adam, the MLPs on the fused dense kernel, the soft target update, the seeded RNG,
 * the normalisation and the backend. src/rl/index.ts does not export these building blocks yet, so
 * this adapter is the one place that reaches into src/rl's modules; when src/rl exports them, only
 * these lines change.
 */
export { Adam } from '../rl/adam.ts';
export { cloneMlp, createMlp, disposeMlp, mlp, mlpVariables, type Mlp } from '../rl/networks/mlp.ts';
export { softUpdate } from '../rl/bcq.ts';
export { Rng } from '../rl/rng.ts';
export { dimStats, normalizationFromStats, normalizeActions, normalizeStates, type DimStats, type Normalization } from '../rl/normalization.ts';
export { initBackend, loadPolicy, DEFAULT_LATENT_SEED, Policy, type BackendInfo, type BackendName, type PolicyFn } from '../rl/index.ts';
