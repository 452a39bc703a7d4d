/**
 * Writes ope-report.json (validated against its schema first: a report that breaks the contract is a
 * bug, not an output), ope-report.csv (the summary table, one row per policy) and ope-report.html into
 * a folder, each atomically.
 */
import { join } from 'node:path';
import { toCsv, writeFileAtomic } from '../io/index.ts';
import { renderHtml } from './html.ts';
import { OpeReport, type OpePolicyResult } from './schemas.ts';

export const REPORT_JSON = 'ope-report.json';
export const REPORT_HTML = 'ope-report.html';
export const REPORT_CSV = 'ope-report.csv';

/** The columns of ope-report.csv, in order (relative lifts as fractions: 0.012 = +1.2%). */
export const REPORT_CSV_COLUMNS = [
  'name', 'kind', 'live', 'source', 'v_hat', 'ci95_low', 'ci95_high',
  'lift_rel', 'lift_rel_low', 'lift_rel_high', 'vs_baseline_rel', 'vs_baseline_rel_low', 'vs_baseline_rel_high',
  'ood_share', 'pdwis', 'wdr', 'ess0', 'rank', 'ties', 'verdict', 'vs_behavior', 'vs_baseline', 'flags', 'statement',
] as const;

/** ope-report.csv: the summary table of the page, the live model last when it is not among the policies. */
export function opeReportCsv(r: OpeReport): string {
  const list: OpePolicyResult[] = r.baseline && !r.policies.some((p) => p.name === r.baseline!.name) ? [...r.policies, r.baseline] : r.policies;
  const rank = new Map(r.ranking.ranks.map((x) => [x.name, x]));
  return toCsv(
    REPORT_CSV_COLUMNS,
    list.map((p) => [
      p.name, p.kind, p.name === r.baseline?.name, p.source, p.v_hat, p.ci95[0], p.ci95[1],
      p.lift?.rel, p.lift?.rel_ci95?.[0], p.lift?.rel_ci95?.[1], p.vs_baseline?.rel, p.vs_baseline?.rel_ci95?.[0], p.vs_baseline?.rel_ci95?.[1],
      p.ood.share, p.importance?.pdwis.mean, p.importance?.wdr.mean, p.importance?.ess[0],
      rank.get(p.name)?.rank, rank.get(p.name)?.ties.join(';'), p.verdict, p.assessment.vs_behavior, p.assessment.vs_baseline,
      p.flags.map((f) => f.code).join(';'), p.assessment.statement,
    ]),
  );
}

export function writeOpeReport(outDir: string, report: OpeReport): { json: string; html: string; csv: string } {
  const parsed = OpeReport.safeParse(report);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new Error(`ope-report.json would break its schema at ${first.path.join('.') || '(root)'}: ${first.message}`);
  }
  const json = join(outDir, REPORT_JSON);
  const html = join(outDir, REPORT_HTML);
  const csv = join(outDir, REPORT_CSV);
  writeFileAtomic(json, JSON.stringify(report, null, 2) + '\n');
  writeFileAtomic(csv, opeReportCsv(report));
  writeFileAtomic(html, renderHtml(report));
  return { json, html, csv };
}
