/**
 * One policy's entry of ope-report.json from its fits: the interval of V̂, the paired lifts over the
 * behavior policy and the live model, per-response values, the OOD share, the verdict and its reasons.
 */
import { assess, policyFlags } from './assess.ts';
import { bootstrapInterval } from './bootstrap.ts';
import type { OpeConfig } from './config.ts';
import type { OpeData } from './data.ts';
import type { FqeFit } from './fqe.ts';
import { oodSummary, summarizeActions, type Neighbourhoods } from './ood.ts';
import type { EvalPolicy, PolicyActions } from './policies.ts';
import type { OpePolicyResult } from './schemas.ts';

/** Everything one policy needs from the full-data fit and the B refits. */
export interface Evaluated {
  policy: EvalPolicy;
  acts: PolicyActions;
  fit: FqeFit;
  /** per resample b: V̂ per head */
  replicates: number[][];
  importance: OpePolicyResult['importance'];
  importanceNote: string | null;
}

export interface Context {
  d: OpeData;
  cfg: OpeConfig;
  nb: Neighbourhoods;
  edges: number[][];
  weights: Record<string, number>;
  behavior: Evaluated;
  baseline: Evaluated | null;
  /** PDWIS with all weights 1 (= the empirical discounted return over isHorizon steps) */
  behaviorIs: number;
}

export function policyResult(e: Evaluated, c: Context): OpePolicyResult {
  const { d, cfg } = c;
  const v = e.fit.value[0];
  const iv = bootstrapInterval(v, e.replicates.map((x) => x[0]));
  const isBehavior = e.policy.kind === 'behavior';
  const lift = isBehavior ? null : difference(e, c.behavior);
  const vsBaseline = c.baseline && e !== c.baseline ? difference(e, c.baseline) : null;
  const perResponse = d.heads.slice(1).map((name, k) => {
    const h = k + 1;
    return { name, weight: c.weights[name] ?? 1, v_hat: e.fit.value[h], ci95: bootstrapInterval(e.fit.value[h], e.replicates.map((x) => x[h])).ci95 };
  });
  const ood = oodSummary(d, c.nb, e.acts.pi);
  // The reference's value under the same estimator: the live model's WDR, or for the behavior policy
  // (weights all 1) its empirical return over the same horizon.
  const ref = vsBaseline ? c.baseline! : c.behavior;
  const refWdr = ref.policy.kind === 'behavior' ? c.behaviorIs : (ref.importance?.wdr.mean ?? null);
  const wdr = e.importance && refWdr !== null ? { ...e.importance.wdr, reference: refWdr } : null;
  const assessment = assess({ lift, vs_baseline: vsBaseline, ood: { share: ood.share } }, cfg.shipMaxOod, c.baseline?.policy.name ?? null);
  const { verdict, reasons } = isBehavior
    ? { verdict: 'reference' as const, reasons: ['the logged behavior policy: the reference of every lift'] }
    : decide(vsBaseline ?? lift!, vsBaseline ? 'the live model' : 'the behavior policy', ood.share, cfg.shipMaxOod, wdr);
  const r: OpePolicyResult = {
    name: e.policy.name,
    source: e.policy.source,
    kind: isBehavior ? 'behavior' : 'policy',
    ...(e.policy.kind === 'fn' && e.policy.latentSeed !== undefined ? { latent_seed: e.policy.latentSeed } : {}),
    stochastic: isBehavior || e.acts.stochastic,
    action_samples: e.acts.samples,
    v_hat: v,
    ci95: iv.ci95,
    se: iv.se,
    bootstrap: { resamples: e.replicates.length, iterations: cfg.bootstrapIterations ?? cfg.fqe.iterations, values: e.replicates.map((x) => x[0]), percentile95: iv.percentile95 },
    lift,
    vs_baseline: vsBaseline,
    per_response: perResponse,
    per_response_weighted_sum: perResponse.length ? perResponse.reduce((s, r) => s + r.weight * r.v_hat, 0) : null,
    importance: e.importance,
    importance_note: e.importance ? null : e.importanceNote,
    ood,
    actions: summarizeActions(e.acts.raw, d.actionDim, c.edges),
    fqe: { iterations: e.fit.iterations, seconds: e.fit.seconds, curves: { step: e.fit.curves.step, td_loss: e.fit.curves.tdLoss, penalty: e.fit.curves.penalty, v_hat: e.fit.curves.vHat } },
    verdict,
    reasons,
    assessment,
    flags: [],
  };
  r.flags = policyFlags(r, cfg);
  return r;
}

/** V̂(a) − V̂(b) with the paired bootstrap interval (the resamples are shared). */
function difference(a: Evaluated, b: Evaluated): NonNullable<OpePolicyResult['lift']> {
  const base = b.fit.value[0];
  const abs = a.fit.value[0] - base;
  const iv = bootstrapInterval(abs, a.replicates.map((x, i) => x[0] - b.replicates[i][0]));
  if (!(Math.abs(base) > 0)) return { abs, rel: null, ci95: iv.ci95, rel_ci95: null };
  const s = 1 / Math.abs(base);
  return { abs, rel: abs * s, ci95: iv.ci95, rel_ci95: [iv.ci95[0] * s, iv.ci95[1] * s] };
}

/**
 * ship: better than the reference with 95% confidence and in distribution; reject: worse with 95%
 * confidence; hold: everything else, with the reasons. A doubly robust estimate whose whole interval
 * lies below the reference's turns ship into hold.
 */
export function decide(
  diff: { abs: number; ci95: [number, number]; rel: number | null },
  reference: string,
  oodShare: number,
  maxOod: number,
  /** the policy's WDR estimate and the same estimator's value of the reference (null without action_logp) */
  wdr: { mean: number; ci95: [number, number]; reference: number } | null,
): { verdict: 'ship' | 'hold' | 'reject'; reasons: string[] } {
  const reasons: string[] = [];
  const pct = (x: number | null) => (x === null ? `${diff.abs >= 0 ? '+' : ''}${diff.abs.toPrecision(3)}` : `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`);
  if (diff.ci95[1] < 0) return { verdict: 'reject', reasons: [`worse than ${reference} (${pct(diff.rel)}, 95% interval below 0)`] };
  let verdict: 'ship' | 'hold' = diff.ci95[0] > 0 ? 'ship' : 'hold';
  reasons.push(diff.ci95[0] > 0 ? `better than ${reference} (${pct(diff.rel)}, 95% interval above 0)` : `no difference from ${reference} at 95% (${pct(diff.rel)}, interval includes 0)`);
  if (oodShare > maxOod) {
    verdict = 'hold';
    reasons.push(`${(100 * oodShare).toFixed(0)}% of its actions are out of the logged distribution (limit ${(100 * maxOod).toFixed(0)}%): FQE extrapolates there`);
  }
  if (wdr && verdict === 'ship' && wdr.ci95[1] < wdr.reference) {
    verdict = 'hold';
    reasons.push(`the doubly robust estimate disagrees: ${wdr.mean.toPrecision(4)} [${wdr.ci95[0].toPrecision(4)}, ${wdr.ci95[1].toPrecision(4)}] is below ${reference}'s ${wdr.reference.toPrecision(4)}`);
  }
  return { verdict, reasons };
}

