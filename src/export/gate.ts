/**
 * The publication gate (issue 6 §2): a model is published only if
 *   1. its V̂ lower bound is not below the baseline's V̂ minus the tolerance: ci95.lo(new) ≥ V̂(base) − tol,
 *      where the baseline is the current model (when the OPE report evaluated it) or the behavior policy
 *      (rule `interval`, the default); or, rule `paired`, the lower end of the paired bootstrap interval
 *      of V̂(new) − V̂(base) over the same session resamples is ≥ −tol (the report's vs_baseline; falls
 *      back to `interval` when the report has no paired difference against this baseline);
 *   2. every action it takes on the check states is finite and inside the logged action box;
 *   3. onnxruntime's outputs match the reference computation (parity).
 * Otherwise it is rejected with every failed check as a reason.
 */
import { InputError } from '../errors/index.ts';
import type { ActionCheck, ParityResult } from './checks.ts';
import type { Manifest } from './manifest.ts';
import type { OpeEntry } from './opeReport.ts';

/** Default allowed V̂ shortfall against the baseline (0: the lower bound must reach the baseline's V̂). */
export const DEFAULT_TOLERANCE = 0;

export const GATE_RULES = ['interval', 'paired'] as const;
export type GateRule = (typeof GATE_RULES)[number];

export interface GateInput {
  candidate: OpeEntry;
  baseline: OpeEntry & { role: 'current' | 'behavior' };
  tolerance: number;
  /** default interval */
  rule?: GateRule;
  /** V̂(candidate) − V̂(baseline) with its paired 95% interval, when the report has it for this baseline */
  paired?: { abs: number; ci95: [number, number] } | null;
  actions: ActionCheck;
  parity: ParityResult;
}

export function decide(input: GateInput): Manifest['gate'] {
  const { candidate, baseline, tolerance, actions, parity } = input;
  const threshold = baseline.v_hat - tolerance;
  const base = baseline.name === baseline.role ? baseline.name : `${baseline.role} ${baseline.name}`;
  const rule: GateRule = input.rule === 'paired' && input.paired ? 'paired' : 'interval';
  // paired: the candidate's lower bound is V̂(base) + the lower end of the paired difference
  const lower = rule === 'paired' ? baseline.v_hat + input.paired!.ci95[0] : candidate.ci95 ? candidate.ci95[0] : null;
  const valuePassed = lower !== null && Number.isFinite(lower) && lower >= threshold;
  const what = rule === 'paired' ? `paired lower bound of ${candidate.name} (V̂ ${fmt(baseline.v_hat)} + ${fmt(input.paired!.ci95[0])})` : `V̂ lower bound of ${candidate.name}`;
  const reasons: string[] = [];
  if (lower === null) reasons.push(`value: the OPE report gives ${candidate.name} no ci95, so its lower bound is unknown`);
  else if (!valuePassed) {
    reasons.push(`value: ${what} ${fmt(lower)} < ${base} V̂ ${fmt(baseline.v_hat)} − tolerance ${fmt(tolerance)} = ${fmt(threshold)}`);
  }
  if (!actions.passed) reasons.push(`actions: ${actions.non_finite} non-finite and ${actions.out_of_bounds} out-of-bounds weights on ${actions.states} check states (first: ${actions.first_problem})`);
  if (!parity.passed) {
    reasons.push(
      `parity: onnxruntime vs reference on ${parity.states} states: max |Δα| ${fmt(parity.max_abs_diff)} (tolerance ${fmt(parity.tolerance)}), ${parity.mismatches} mismatches, ` +
        `${parity.near_tie_flips} near-tie flips, scores rel. diff ${fmt(parity.score_max_rel_diff)}, scorer vs policy ${fmt(parity.scorer_policy_diff)}` +
        (parity.tfjs_max_abs_diff === null ? '' : `, vs the TensorFlow.js policy ${fmt(parity.tfjs_max_abs_diff)}`),
    );
  }
  const decision = reasons.length === 0 ? 'published' : 'rejected';
  const reason =
    decision === 'published'
      ? `${what} ${fmt(lower!)} ≥ ${base} V̂ ${fmt(baseline.v_hat)} − tolerance ${fmt(tolerance)}; actions finite and in bounds; parity max |Δα| ${fmt(parity.max_abs_diff)}`
      : reasons.join('; ');
  return {
    decision,
    reason,
    reasons,
    tolerance,
    rule,
    value: { passed: valuePassed, lower_bound: lower, threshold },
    actions,
    parity,
  };
}

/**
 * The gate said no. An InputError: the same inputs give the same answer, so a job must not retry; the
 * CLI exits 1 with the message (which names the version whose manifest records the rejection).
 */
export class GateRejectedError extends InputError {
  constructor(
    message: string,
    readonly version: string,
    readonly manifestPath: string,
  ) {
    super(message, { file: manifestPath });
    this.name = 'GateRejectedError';
  }
}

function fmt(x: number): string {
  return Number.isFinite(x) ? Number(x.toPrecision(6)).toString() : String(x);
}
