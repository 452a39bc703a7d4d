/**
 * What an analyst reads first: a verdict in words per policy, and diagnostics that flag themselves —
 * each flag a code (for machines), a message with the numbers (for the report), and one sentence on
 * what it means (FLAG_EXPLANATIONS, shown on the page once per code). Pure functions of a policy's
 * result and the configuration.
 */
import type { OpeConfig } from './config.ts';

export type FlagCode =
  | 'fqe_not_converged'
  | 'fqe_curve_short'
  | 'per_response_mismatch'
  | 'few_refits'
  | 'importance_degenerate'
  | 'out_of_support'
  | 'behavior_check';

export interface Flag {
  code: FlagCode;
  message: string;
}

/** One sentence per flag: what it means and what to do (shown on the page under the table). */
export const FLAG_EXPLANATIONS: Record<FlagCode, string> = {
  fqe_not_converged:
    "FQE's value was still moving (or its TD error still falling) over the steps V̂ is averaged from: the estimate may change with more steps — raise fqe.iterations before trusting it.",
  fqe_curve_short: 'The FQE curve has too few recorded points to judge convergence: lower fqe.logEvery or raise fqe.iterations.',
  per_response_mismatch:
    'Σ w_i·v̂_i (the per-response values weighted like the reward) differs from V̂ by more than V̂\'s own interval: the heads disagree, so at least one of them is not fitted well.',
  few_refits:
    'The interval comes from few bootstrap refits, so its width is itself uncertain (±1/√(2(B−1)) relative): use bootstrap ≥ 10 for decisions.',
  importance_degenerate:
    'The importance weights are degenerate (effective sample size at the first step ESS₀ is a tiny share of the sessions): PDWIS and WDR rest on a handful of sessions and say little.',
  out_of_support:
    "Most of the policy's actions lie where the log shows none: the conservative penalty pushes V̂ down there, so V̂ is a floor the data can vouch for, not an estimate of the policy's value.",
  behavior_check:
    'FQE of the logged actions is far from the empirical discounted return of the same sessions: the estimator or the data is off, and every other estimate is suspect.',
};

/** Fewer refits than this raise `few_refits`. */
export const MIN_REFITS = 10;
/** ESS₀ below this share of the sessions observed at the first step raises `importance_degenerate`. */
export const MIN_ESS_SHARE = 0.05;
/** Curve points needed in the read-out window to judge convergence. */
export const MIN_CURVE_POINTS = 5;

export interface AssessInput {
  v_hat: number;
  ci95: [number, number];
  bootstrap: { resamples: number };
  per_response_weighted_sum: number | null;
  importance: { ess: number[]; observed: number[] } | null;
  ood: { share: number };
  fqe: { iterations: number; curves: { step: number[]; td_loss: number[]; v_hat: number[] } };
}

/**
 * Convergence over the read-out window (the last `averageLast` of the steps, where V̂'s weights are
 * averaged): V̂ of the current iterate drifting by more than `driftTol` of its level along a
 * least-squares line and by more than twice the scatter around it, or the TD error of the last quarter
 * of the steps below `tdTol` × that of the quarter before.
 */
export function convergenceFlag(
  curves: AssessInput['fqe']['curves'],
  iterations: number,
  averageLast: number,
  o: { driftTol?: number; tdTol?: number } = {},
): Flag | null {
  const from = iterations * (1 - (averageLast > 0 ? averageLast : 0.5));
  const idx = curves.step.map((s, i) => (s >= from ? i : -1)).filter((i) => i >= 0);
  if (idx.length < MIN_CURVE_POINTS) {
    return { code: 'fqe_curve_short', message: `only ${idx.length} FQE curve point${idx.length === 1 ? '' : 's'} after step ${Math.round(from)} (${curves.step.length} in all): convergence not checked` };
  }
  const x = idx.map((i) => curves.step[i]);
  const y = idx.map((i) => curves.v_hat[i]);
  const mx = x.reduce((a, b) => a + b, 0) / x.length;
  const my = y.reduce((a, b) => a + b, 0) / y.length;
  let sxy = 0;
  let sxx = 0;
  for (let k = 0; k < x.length; k++) {
    sxy += (x[k] - mx) * (y[k] - my);
    sxx += (x[k] - mx) ** 2;
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  const resid = Math.sqrt(y.reduce((s, v, k) => s + (v - my - slope * (x[k] - mx)) ** 2, 0) / Math.max(1, y.length - 2));
  const drift = slope * (x[x.length - 1] - x[0]);
  const driftTol = o.driftTol ?? 0.05;
  if (Math.abs(drift) > driftTol * Math.abs(my) && Math.abs(drift) > 2 * resid) {
    return { code: 'fqe_not_converged', message: `V̂ moved by ${drift >= 0 ? '+' : ''}${drift.toPrecision(3)} (${(100 * drift / Math.abs(my)).toFixed(1)}%) over steps ${x[0]}–${x[x.length - 1]}, the window V̂ is read from` };
  }
  const q = curves.step.length;
  const last = curves.td_loss.filter((_, i) => curves.step[i] > iterations * 0.75);
  const prev = curves.td_loss.filter((_, i) => curves.step[i] > iterations * 0.5 && curves.step[i] <= iterations * 0.75);
  if (q >= 2 * MIN_CURVE_POINTS && last.length && prev.length) {
    const [l, p] = [avg(last), avg(prev)];
    const tdTol = o.tdTol ?? 0.85;
    if (l < tdTol * p) return { code: 'fqe_not_converged', message: `TD error still falling: ${l.toPrecision(3)} over the last quarter of the steps vs ${p.toPrecision(3)} over the quarter before (−${(100 * (1 - l / p)).toFixed(0)}%)` };
  }
  return null;
}

/** Every flag of one policy's result. */
export function policyFlags(p: AssessInput, cfg: Pick<OpeConfig, 'shipMaxOod'> & { fqe: Pick<OpeConfig['fqe'], 'averageLast'> }): Flag[] {
  const flags: Flag[] = [];
  const conv = convergenceFlag(p.fqe.curves, p.fqe.iterations, cfg.fqe.averageLast);
  if (conv) flags.push(conv);
  const half = (p.ci95[1] - p.ci95[0]) / 2;
  if (p.per_response_weighted_sum !== null && Number.isFinite(half) && Math.abs(p.per_response_weighted_sum - p.v_hat) > half) {
    flags.push({ code: 'per_response_mismatch', message: `Σ w·v̂ ${p.per_response_weighted_sum.toPrecision(4)} vs V̂ ${p.v_hat.toPrecision(4)} (interval ±${half.toPrecision(3)})` });
  }
  const B = p.bootstrap.resamples;
  if (B < MIN_REFITS) {
    const u = B >= 2 ? `±${(100 / Math.sqrt(2 * (B - 1))).toFixed(0)}%` : 'unknown: no interval';
    flags.push({ code: 'few_refits', message: `${B} bootstrap refit${B === 1 ? '' : 's'}: the interval's width is uncertain by ${u}` });
  }
  if (p.importance && p.importance.ess.length) {
    const share = p.importance.ess[0] / Math.max(1, p.importance.observed[0]);
    if (share < MIN_ESS_SHARE) flags.push({ code: 'importance_degenerate', message: `ESS₀ ${p.importance.ess[0].toPrecision(3)} of ${p.importance.observed[0]} sessions (${(100 * share).toFixed(1)}%)` });
  }
  if (p.ood.share > cfg.shipMaxOod) flags.push({ code: 'out_of_support', message: `${(100 * p.ood.share).toFixed(0)}% of its actions out of the logged support (limit ${(100 * cfg.shipMaxOod).toFixed(0)}%)` });
  return flags;
}

export type Comparison = 'better' | 'indistinguishable' | 'worse';

export interface Assessment {
  vs_behavior: Comparison | null;
  vs_baseline: Comparison | null;
  out_of_support: boolean;
  statement: string;
}

interface Diff {
  rel: number | null;
  abs: number;
  ci95: [number, number];
  rel_ci95: [number, number] | null;
}

const compare = (d: Diff | null): Comparison | null => (d === null ? null : d.ci95[0] > 0 ? 'better' : d.ci95[1] < 0 ? 'worse' : 'indistinguishable');

function phrase(d: Diff, who: string): string {
  const c = compare(d)!;
  const f = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`;
  const g = (x: number) => `${x >= 0 ? '+' : ''}${x.toPrecision(3)}`;
  const lift = d.rel !== null && d.rel_ci95 ? `${f(d.rel)} [${f(d.rel_ci95[0])}, ${f(d.rel_ci95[1])}]` : `${g(d.abs)} [${g(d.ci95[0])}, ${g(d.ci95[1])}]`;
  if (c === 'better') return `better than ${who} with 95% confidence (${lift})`;
  if (c === 'worse') return `worse than ${who} with 95% confidence (${lift})`;
  return `not distinguishable from ${who} (${lift}: the interval includes 0)`;
}

/** The verdict in words: against the behavior policy and the served model, and the support. */
export function assess(p: { lift: Diff | null; vs_baseline: Diff | null; ood: { share: number } }, maxOod: number, baselineName: string | null): Assessment {
  const out = p.ood.share > maxOod;
  const parts: string[] = [];
  if (out) parts.push(`outside the data's support (${(100 * p.ood.share).toFixed(0)}% of its actions): V̂ is a conservative floor, not its value`);
  if (p.lift) parts.push(phrase(p.lift, 'the behavior policy'));
  if (p.vs_baseline) parts.push(phrase(p.vs_baseline, baselineName ? `the served model (${baselineName})` : 'the served model'));
  const statement = parts.length ? parts.join('; ') : 'the logged behavior policy: the reference of every lift';
  return { vs_behavior: compare(p.lift), vs_baseline: compare(p.vs_baseline), out_of_support: out, statement: statement[0].toUpperCase() + statement.slice(1) + '.' };
}

function avg(x: number[]): number {
  return x.reduce((a, b) => a + b, 0) / x.length;
}
