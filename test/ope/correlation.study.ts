/**
 * The full correlation study (issue 5 §2): `npm run study:ope` (see src/ope/README.md for the figures).
 *
 *   node --import tsx test/ope/correlation.study.ts [--work /tmp/mtf-ope-study] [--out src/ope/figures]
 *     [--sessions-per-day 10000] [--days 3] [--bc 5000] [--td3 10000] [--bcq 10000] [--every 2500]
 *     [--iterations 5000] [--alpha <α>] [--fqe '{"penalty":"linear",…}'] [--bootstrap 5] [--bootstrap-iterations 1000]
 *     [--truth-sessions 20000] [--seed 7 (the simulated log)] [--tag <suffix of the output files>]
 *     [--scenario tuned-production (default: the paper's setting) | hand-tuned-production (the legacy world)]
 *
 * Writes <out>/correlation<tag>.json (every number), .svg (V̂ vs true discounted return, with 95%
 * intervals) and .md (the table), and prints the table. Simulated logs, trajectories, training runs
 * and ground truths are cached in --work. `--from <correlation.json>` only re-renders table and figure.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { conservativeView, runStudy, type StudyResult } from './study.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const num = (name: string, def: number) => Number(opt(name, String(def)));

const work = opt('work', '/tmp/mtf-ope-study');
const out = opt('out', join(import.meta.dirname, '..', '..', 'src', 'ope', 'figures'));
const every = num('every', 2500);
const td3 = num('td3', 10000);
const bcq = num('bcq', 10000);
const stepsUpTo = (n: number) => Array.from({ length: Math.floor(n / every) }, (_, i) => (i + 1) * every);

const tag = opt('tag', '');
const from = opt('from', '');
let result: StudyResult;
if (from) {
  // Re-render the table and the figure from a saved correlation.json (no simulation, no training).
  const saved = JSON.parse(readFileSync(from, 'utf8'));
  result = { ...conservativeView(saved.rows, saved.config.shipMaxOod), ...saved, report: { config: saved.config, behavior: saved.behavior, data: saved.data } } as StudyResult;
} else {
  const t0 = performance.now();
  result = await runStudy({
    work,
    sessionsPerDay: num('sessions-per-day', 10000),
    seed: num('seed', 7),
    scenario: opt('scenario', 'tuned-production') as 'tuned-production' | 'hand-tuned-production',
    days: num('days', 3),
    train: { bc: num('bc', 5000), td3, bcq, checkpointEvery: every },
    checkpoints: { td3: stepsUpTo(td3).filter((_, i) => i % 2 === 0), bcq: stepsUpTo(bcq) },
    ope: {
      // FQE: the src/ope/config.ts defaults unless overridden (--alpha, or any field via --fqe '{json}')
      fqe: { iterations: num('iterations', 5000), ...(opt('alpha', '') ? { alpha: num('alpha', 0) } : {}), ...JSON.parse(opt('fqe', '{}')) },
      bootstrap: num('bootstrap', 5),
      bootstrapIterations: num('bootstrap-iterations', 1000),
    },
    truthSessions: num('truth-sessions', 20000),
    log: (l) => process.stderr.write(`${((performance.now() - t0) / 1000).toFixed(0).padStart(5)} s  ${l}\n`),
  });
  const { report, ...summary } = result;
  // the whole OPE report (FQE curves included) beside the caches, for analyses the table leaves out
  writeFileSync(join(work, `ope-report${tag}.json`), JSON.stringify(report) + '\n');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, `correlation${tag}.json`),
    JSON.stringify({ command: `node --import tsx test/ope/correlation.study.ts ${args.join(' ')}`.trim(), ...summary, behavior: report.behavior, config: report.config, data: report.data }, null, 2) + '\n',
  );
}
mkdirSync(out, { recursive: true });
writeFileSync(join(out, `correlation${tag}.svg`), scatterSvg(result));
const md = markdown(result);
writeFileSync(join(out, `correlation${tag}.md`), md + '\n');
process.stdout.write(md + '\n');

function markdown(r: StudyResult): string {
  const f = (x: number | null, d = 1) => (x === null ? '–' : x.toFixed(d));
  const lines = [
    '| policy | V̂ (FQE) | 95% CI | true value | rel. error | OOD | PDWIS | WDR |',
    '|---|---:|---|---:|---:|---:|---:|---:|',
    ...r.rows.map(
      (x) =>
        `| ${x.name} | ${f(x.vHat)} | [${f(x.ci95[0])}, ${f(x.ci95[1])}] | ${f(x.truth)} | ${(100 * (x.vHat - x.truth) / Math.abs(x.truth)).toFixed(1)}% | ${(100 * x.ood).toFixed(0)}% | ${f(x.pdwis)} | ${f(x.wdr)} |`,
    ),
    '',
    `Spearman ρ(V̂, truth) = ${r.spearman.toFixed(3)}; regret@1 = ${r.regretAt1.toFixed(1)} (${(100 * r.relativeRegretAt1).toFixed(1)}% of the best true value); mean relative error = ${(100 * r.meanRelativeError).toFixed(1)}%; truth inside the FQE interval for ${(100 * r.coverage).toFixed(0)}% of policies.`,
    `Spearman among the in-distribution policies (OOD < ${r.report.config.shipMaxOod}) = ${f(r.spearmanInDistribution ?? null, 3)}; the best any conservative estimator can reach here (every OOD policy below every in-distribution one, each group in true order) = ${f(r.spearmanConservativeCeiling ?? null, 3)}.`,
    `Spearman of PDWIS = ${f(r.spearmanPdwis, 3)}, of WDR = ${f(r.spearmanWdr, 3)} (policies other than behavior).`,
    `Behavior check: FQE ${r.report.behavior.v_hat_complete.toFixed(1)} vs empirical ${r.report.behavior.empirical_complete.mean.toFixed(1)} (${r.report.behavior.check}).`,
    `Seconds: data ${r.seconds.data.toFixed(0)}, training ${r.seconds.train.toFixed(0)}, OPE ${r.seconds.ope.toFixed(0)}, truth ${r.seconds.truth.toFixed(0)}.`,
  ];
  return lines.join('\n');
}

/**
 * A dependency-free SVG scatter: x = true value, y = V̂ with its interval, the diagonal y = x. The axes
 * span the true values (±30%); estimates beyond them are drawn as triangles on the edge with their value.
 */
function scatterSvg(r: StudyResult): string {
  const W = 760;
  const H = 540;
  const m = { l: 70, r: 230, t: 40, b: 55 };
  const truths = r.rows.map((x) => x.truth);
  const tMin = Math.min(...truths);
  const tMax = Math.max(...truths);
  const span = Math.max(tMax - tMin, Math.abs(tMax) * 0.1);
  const lo = tMin - 0.6 * span;
  const hi = tMax + 0.6 * span;
  const sx = (v: number) => m.l + ((v - lo) / (hi - lo)) * (W - m.l - m.r);
  const sy = (v: number) => H - m.b - ((Math.min(Math.max(v, lo), hi) - lo) / (hi - lo)) * (H - m.t - m.b);
  const colors: Record<string, string> = { behavior: '#455a64', constant: '#1565c0', random: '#8d6e63', bc: '#2e7d32', td3: '#c62828', bcq: '#6a1b9a' };
  const ticks = niceTicks(lo, hi, 6);
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  parts.push(`<text x="${m.l}" y="22" font-size="14" font-weight="bold">Conservative FQE (${fqeLabel(r.report.config.fqe)}) vs ground truth: Spearman ρ = ${r.spearman.toFixed(2)}</text>`);
  for (const t of ticks) {
    parts.push(`<line x1="${sx(t)}" x2="${sx(t)}" y1="${m.t}" y2="${H - m.b}" stroke="#eee"/><text x="${sx(t)}" y="${H - m.b + 16}" text-anchor="middle">${t}</text>`);
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${sy(t)}" y2="${sy(t)}" stroke="#eee"/><text x="${m.l - 6}" y="${sy(t) + 4}" text-anchor="end">${t}</text>`);
  }
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#bbb"/>`);
  parts.push(`<line x1="${sx(lo)}" y1="${sy(lo)}" x2="${sx(hi)}" y2="${sy(hi)}" stroke="#999" stroke-dasharray="5,4"/>`);
  parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 12}" text-anchor="middle">true discounted return (simulator rollouts)</text>`);
  parts.push(`<text transform="translate(18,${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">estimate (FQE) with 95% bootstrap interval</text>`);
  const offLabels = new Map<string, { X: number; Y: number; d: number; c: string; items: string[] }>();
  r.rows.forEach((x, i) => {
    const c = colors[x.group] ?? '#000';
    const X = sx(x.truth);
    parts.push(`<line x1="${X}" x2="${X}" y1="${sy(x.ci95[0])}" y2="${sy(x.ci95[1])}" stroke="${c}" stroke-width="2" opacity="0.5"/>`);
    const title = `<title>${esc(x.name)}: V̂ ${x.vHat.toFixed(1)}, truth ${x.truth.toFixed(1)}</title>`;
    if (x.vHat < lo || x.vHat > hi) {
      const Y = sy(x.vHat);
      const d = x.vHat < lo ? 1 : -1;
      parts.push(`<path d="M ${X - 6} ${Y - 8 * d} L ${X + 6} ${Y - 8 * d} L ${X} ${Y} Z" fill="${c}">${title}</path>`);
      const key = `${Math.round(X / 6)}:${d}`; // markers on top of each other share one label
      const l = offLabels.get(key) ?? { X, Y, d, c, items: [] };
      l.items.push(`${i + 1}: ${x.vHat.toFixed(0)}`);
      offLabels.set(key, l);
    } else {
      parts.push(`<circle cx="${X}" cy="${sy(x.vHat)}" r="5" fill="${c}">${title}</circle>`);
      parts.push(`<text x="${X + 7}" y="${sy(x.vHat) - 5}" fill="${c}" font-size="11">${i + 1}</text>`);
    }
  });
  for (const l of offLabels.values()) parts.push(`<text x="${l.X + 8}" y="${l.Y - 10 * l.d}" fill="${l.c}" font-size="11">${l.items.join(', ')}</text>`);
  r.rows.forEach((x, i) => {
    const y = m.t + 10 + i * 17;
    parts.push(`<circle cx="${W - m.r + 16}" cy="${y - 4}" r="5" fill="${colors[x.group] ?? '#000'}"/><text x="${W - m.r + 26}" y="${y}">${i + 1} ${esc(x.name)}: ${x.truth.toFixed(0)} / ${x.vHat.toFixed(0)}</text>`);
  });
  parts.push(`<text x="${W - m.r + 10}" y="${m.t + 14 + r.rows.length * 17}" fill="#666">(true value / V̂)</text>`);
  parts.push('</svg>\n');
  return parts.join('\n');
}

function fqeLabel(f: { alpha: number; penalty?: string; temperature?: number; penaltyNoise?: number; clipValues?: boolean }): string {
  const parts = [`α = ${f.alpha}`];
  if (f.penalty === 'logsumexp') parts.push(`logsumexp τ = ${f.temperature}`);
  if (f.penaltyNoise) parts.push(`σ = ${f.penaltyNoise}`);
  if (f.clipValues) parts.push('clipped');
  return parts.join(', ');
}

function niceTicks(lo: number, hi: number, n: number): number[] {
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi; t += step) out.push(Number(t.toPrecision(6)));
  return out;
}
