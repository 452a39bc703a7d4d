/**
 * What each FQE fit of an evaluation is asked: the full-data fit of a policy and its B bootstrap
 * refits, with their seeds, rows and warm start. One definition for wherever the fits run — this
 * thread, the worker threads of fitPool.ts, or the fit jobs of a fanned-out evaluation (fitBundle.ts,
 * jobs/processors/evaluateJobs.ts) — so that the same fit gets the same numbers everywhere.
 */
import { chooseStarts, drawResample, resampleSeed } from './bootstrap.ts';
import type { OpeConfig } from './config.ts';
import { sessionStarts, type OpeData } from './data.ts';
import type { FitRequest } from './fitPool.ts';
import { behaviorPolicy, type EvalPolicy } from './policies.ts';
import { Rng } from './rl.ts';

/** The initial states of the full-data fits (Eq. 10's n states, drawn with the evaluation's seed). */
export function fullDataStarts(d: Pick<OpeData, 'sessions' | 'ptr' | 'order'>, cfg: OpeConfig): Int32Array {
  return chooseStarts(sessionStarts(d), cfg.fqe.initialStates, new Rng(cfg.fqe.seed));
}

/** Resample i (0-based) of the evaluation's B. */
export function evaluationResample(d: Pick<OpeData, 'sessions' | 'ptr' | 'order'>, cfg: OpeConfig, i: number) {
  return drawResample(d, cfg.fqe.seed, i, cfg.fqe.initialStates);
}

/** A policy's full-data fit: row tables for the doubly robust estimate, weights for the refits' warm start. */
export function fullFitRequest(cfg: OpeConfig, starts: Int32Array, penaltyWeights: Float32Array | null): FitRequest {
  return { cfg: cfg.fqe, starts, tables: true, keepWeights: cfg.bootstrapWarmStart, penaltyWeights };
}

/** Refit i (0-based) of a policy on resample r, warm-started from its full-data fit's weights. */
export function refitRequest(
  cfg: OpeConfig,
  r: { pool: Int32Array; starts: Int32Array },
  i: number,
  o: { withIs: boolean; init: Float32Array[] | null; penaltyWeights: Float32Array | null },
): FitRequest {
  return {
    cfg: cfg.fqe,
    starts: r.starts,
    pool: r.pool,
    iterations: cfg.bootstrapIterations ?? cfg.fqe.iterations,
    seed: resampleSeed(cfg.fqe.seed ^ 0x5eed, i + 1),
    tables: o.withIs,
    curves: false,
    init: o.init,
    penaltyWeights: o.penaltyWeights,
  };
}

/** Where a fit's result belongs: the policy's key in the evaluation (p0 = behavior, …) and refit 0 (full data) … B. */
export interface FitKey {
  policy: string;
  refit: number;
}

/**
 * The policies an evaluation fits, in order, with their keys: the behavior policy first (every lift
 * refers to it; the one in `policies` or a default), then the others of `policies`, then the baseline
 * when it is not one of them. Keys name files and job ids, never the policy's own name.
 */
export function evaluationOrder(policies: EvalPolicy[], baseline: EvalPolicy | null | undefined): { key: string; policy: EvalPolicy }[] {
  const list = [policies.find((p) => p.kind === 'behavior') ?? behaviorPolicy(), ...policies.filter((p) => p.kind !== 'behavior')];
  if (baseline && !policies.includes(baseline)) list.push(baseline);
  return list.map((policy, i) => ({ key: `p${i}`, policy }));
}
