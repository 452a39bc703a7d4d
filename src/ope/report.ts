/**
 * Writes ope-report.json (validated against its schema first: a report that breaks the contract is a
 * bug, not an output) and ope-report.html into a folder, each atomically.
 */
import { join } from 'node:path';
import { writeFileAtomic } from '../io/index.ts';
import { renderHtml } from './html.ts';
import { OpeReport } from './schemas.ts';

export const REPORT_JSON = 'ope-report.json';
export const REPORT_HTML = 'ope-report.html';

export function writeOpeReport(outDir: string, report: OpeReport): { json: string; html: string } {
  const parsed = OpeReport.safeParse(report);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new Error(`ope-report.json would break its schema at ${first.path.join('.') || '(root)'}: ${first.message}`);
  }
  const json = join(outDir, REPORT_JSON);
  const html = join(outDir, REPORT_HTML);
  writeFileAtomic(json, JSON.stringify(report, null, 2) + '\n');
  writeFileAtomic(html, renderHtml(report));
  return { json, html };
}
