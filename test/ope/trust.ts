/**
 * The summary of the three-log trust study (trust.study.ts; issue 19 goals 1–3), computed from the saved
 * per-log results, so that it can be re-rendered without re-running anything (`--summary-only`).
 */
import { meanRelativeError, spearman } from '../../src/ope/metrics.ts';
import { pairwiseComparisons, tieAwareRanks } from '../../src/ope/ranking.ts';
import type { StudyRow } from './study.ts';

export interface TrustRow extends StudyRow {
  /** V̂ of each bootstrap resample (shared resamples: paired across policies) */
  replicates: number[];
}

export interface TrustLog {
  seed: number;
  sessionsPerDay: number;
  rows: TrustRow[];
  shipMaxOod: number;
  data: { sessions: number; transitions: number };
  bootstrap: { resamples: number; iterations: number };
  seconds: Record<string, number>;
}

/** A policy "mostly outside the support" (goal 2): more than half of its actions out of distribution. */
export const MOSTLY_OUTSIDE = 0.5;

export interface TrustLogSummary {
  seed: number;
  sessionsPerDay: number;
  testSessions: number;
  inDistribution: string[];
  /** Spearman ρ(V̂, truth) among the in-distribution policies (point estimates) */
  rho: number;
  /** Spearman ρ(wins − losses, truth): the report's tie-aware order */
  rhoTieAware: number | null;
  /** best in-distribution truth − truth of the policy with the highest V̂, relative */
  regretAt1: number;
  /** the same for the tie-aware order: the worst truth among the policies sharing rank 1 */
  regretAt1TieAware: number;
  pairs: {
    total: number;
    /** pairs the estimator orders (paired 95% interval excludes 0) */
    resolved: number;
    /** … in the true order */
    resolvedRight: number;
    /** pairs whose true difference exceeds the truths' own 95% resolution */
    trulyDifferent: number;
    /** … that the estimator resolves in the true order */
    trulyDifferentFound: number;
  };
  /** share of in-distribution policies whose truth lies in the reported 95% interval */
  coverage: number;
  /** mean signed and absolute relative error of V̂ in distribution */
  meanSignedError: number;
  meanRelativeError: number;
  /** goal 2: policies mostly outside the support, and how many of them V̂ puts below behavior */
  outside: { policies: string[]; belowBehavior: number };
  /**
   * The paired intervals widened by a factor c (se × c): pairs resolved, resolved against the truth, and
   * the tie-aware ρ — whether a calibrated widening would make the ties honest.
   */
  widened: { c: number; resolved: number; wrong: number; rhoTieAware: number | null }[];
}

/** Wins − losses with the paired interval's half-width multiplied by c. */
function widenedRanking(inD: TrustRow[], c: number): { resolved: number; wrong: number; rhoTieAware: number | null } {
  const widen = (r: TrustRow, k: number) => r.vHat + c * (r.replicates[k] - r.vHat);
  const scaled = inD.map((r) => ({ name: r.name, v_hat: r.vHat, replicates: r.replicates.map((_, k) => widen(r, k)) }));
  const pairs = pairwiseComparisons(scaled);
  const by = new Map(inD.map((r) => [r.name, r]));
  let resolved = 0;
  let wrong = 0;
  for (const p of pairs) {
    if (p.winner === 'tie') continue;
    resolved++;
    const [w, l] = p.winner === 'a' ? [by.get(p.a)!, by.get(p.b)!] : [by.get(p.b)!, by.get(p.a)!];
    if (w.truth < l.truth) wrong++;
  }
  const score = tieAwareRanks(scaled, pairs).map((r) => r.wins - r.losses);
  return { resolved, wrong, rhoTieAware: inD.length >= 2 && new Set(score).size > 1 ? spearman(score, inD.map((r) => r.truth)) : null };
}

export function summarizeLog(l: TrustLog): TrustLogSummary & { rows: (TrustRow & { rank: number; ties: string[] })[] } {
  const inD = l.rows.filter((r) => r.ood < l.shipMaxOod);
  const truth = inD.map((r) => r.truth);
  const best = Math.max(...truth);
  const pairs = pairwiseComparisons(inD.map((r) => ({ name: r.name, v_hat: r.vHat, replicates: r.replicates })));
  const ranks = tieAwareRanks(inD.map((r) => ({ name: r.name, v_hat: r.vHat, replicates: r.replicates })), pairs);
  const score = ranks.map((r) => r.wins - r.losses);
  const byName = new Map(inD.map((r) => [r.name, r]));
  const halfTruth = (r: StudyRow) => (r.truthCi95[1] - r.truthCi95[0]) / 2;
  let resolved = 0;
  let resolvedRight = 0;
  let trulyDifferent = 0;
  let trulyDifferentFound = 0;
  for (const p of pairs) {
    const [a, b] = [byName.get(p.a)!, byName.get(p.b)!];
    const dTrue = a.truth - b.truth;
    const right = p.winner === 'a' ? dTrue > 0 : p.winner === 'b' ? dTrue < 0 : false;
    if (p.winner !== 'tie') {
      resolved++;
      if (right) resolvedRight++;
    }
    if (Math.abs(dTrue) > Math.hypot(halfTruth(a), halfTruth(b))) {
      trulyDifferent++;
      if (right) trulyDifferentFound++;
    }
  }
  const topV = inD.reduce((m, r) => (r.vHat > m.vHat ? r : m), inD[0]);
  const top = ranks.filter((r) => r.rank === 1).map((r) => byName.get(r.name)!.truth);
  const behavior = l.rows.find((r) => r.group === 'behavior')!;
  const outside = l.rows.filter((r) => r.ood > MOSTLY_OUTSIDE);
  const allTied = new Set(score).size === 1;
  return {
    seed: l.seed,
    sessionsPerDay: l.sessionsPerDay,
    testSessions: l.data.sessions,
    inDistribution: inD.map((r) => r.name),
    rho: inD.length >= 2 ? spearman(inD.map((r) => r.vHat), truth) : NaN,
    rhoTieAware: allTied || inD.length < 2 ? null : spearman(score, truth),
    regretAt1: (best - topV.truth) / best,
    regretAt1TieAware: (best - Math.min(...top)) / best,
    pairs: { total: pairs.length, resolved, resolvedRight, trulyDifferent, trulyDifferentFound },
    coverage: inD.filter((r) => r.truth >= r.ci95[0] && r.truth <= r.ci95[1]).length / inD.length,
    meanSignedError: inD.reduce((s, r) => s + (r.vHat - r.truth) / r.truth, 0) / inD.length,
    meanRelativeError: meanRelativeError(inD.map((r) => r.vHat), truth),
    outside: { policies: outside.map((r) => r.name), belowBehavior: outside.filter((r) => r.vHat < behavior.vHat).length },
    widened: [1.5, 2, 3, 4].map((c) => ({ c, ...widenedRanking(inD, c) })),
    rows: l.rows.map((r) => {
      const k = ranks.find((x) => x.name === r.name);
      return { ...r, rank: k?.rank ?? NaN, ties: k?.ties ?? [] };
    }),
  };
}

export interface TrustSummary {
  logs: ReturnType<typeof summarizeLog>[];
  /** in-distribution interval coverage pooled over the logs */
  coverage: number;
}

export function summarizeTrust(logs: TrustLog[]): TrustSummary {
  const s = logs.map(summarizeLog);
  const n = s.reduce((a, x) => a + x.inDistribution.length, 0);
  return { logs: s, coverage: s.reduce((a, x) => a + x.coverage * x.inDistribution.length, 0) / n };
}

export function trustMarkdown(t: TrustSummary): string {
  const f = (x: number | null, d = 3) => (x === null || !Number.isFinite(x) ? '–' : x.toFixed(d));
  const pc = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`;
  const out: string[] = [
    '| log seed | sessions/day | test sessions | in-dist. policies | ρ (V̂) | ρ (tie-aware) | regret@1 | regret@1 (tie-aware) | pairs resolved (right) | truly different pairs found | coverage | mean error (signed) | outside support below behavior |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...t.logs.map(
      (l) =>
        `| ${l.seed} | ${l.sessionsPerDay} | ${l.testSessions} | ${l.inDistribution.length} | ${f(l.rho)} | ${f(l.rhoTieAware)} | ${pc(l.regretAt1)} | ${pc(l.regretAt1TieAware)} | ${l.pairs.resolved}/${l.pairs.total} (${l.pairs.resolvedRight}) | ${l.pairs.trulyDifferentFound}/${l.pairs.trulyDifferent} | ${l.inDistribution.length ? Math.round(l.coverage * l.inDistribution.length) : 0}/${l.inDistribution.length} | ${(100 * l.meanRelativeError).toFixed(1)}% (${pc(l.meanSignedError)}) | ${l.outside.belowBehavior}/${l.outside.policies.length} |`,
    ),
    '',
    `Pooled in-distribution coverage of the reported 95% interval: ${(100 * t.coverage).toFixed(0)}%.`,
    '',
    'The paired intervals widened by c (bootstrap deviations × c): pairs resolved / resolved against the truth / tie-aware ρ.',
    '',
    `| log seed | ${t.logs[0]?.widened.map((w) => `c = ${w.c}`).join(' | ')} |`,
    `|---|${t.logs[0]?.widened.map(() => '---:').join('|')}|`,
    ...t.logs.map((l) => `| ${l.seed} | ${l.widened.map((w) => `${w.resolved} / ${w.wrong} / ${f(w.rhoTieAware)}`).join(' | ')} |`),
  ];
  for (const l of t.logs) {
    out.push('', `### Log seed ${l.seed} (${l.sessionsPerDay} sessions/day)`, '', '| policy | OOD | V̂ | 95% CI | truth | error | tie-aware rank | cannot be told apart from |', '|---|---:|---:|---|---:|---:|---:|---|');
    for (const r of [...l.rows].sort((a, b) => b.truth - a.truth)) {
      out.push(`| ${r.name} | ${(100 * r.ood).toFixed(0)}% | ${r.vHat.toFixed(1)} | [${r.ci95[0].toFixed(1)}, ${r.ci95[1].toFixed(1)}] | ${r.truth.toFixed(1)} | ${pc((r.vHat - r.truth) / r.truth)} | ${Number.isNaN(r.rank) ? 'out of support' : r.rank} | ${r.ties.join(', ')} |`);
    }
  }
  return out.join('\n');
}
