/**
 * loop.svg: the loop's value-over-nights chart as a static SVG (for READMEs, where loop.html's
 * Chart.js cannot run): the served version's true discounted return with its 95% CI band, the
 * candidates' truth (● published, ○ not), and the reference lines.
 */
import type { LoopState } from './loopRecord.ts';

const W = 760;
const H = 420;
const M = { l: 64, r: 230, t: 34, b: 46 };

export function loopSvg(state: LoopState): string {
  const n = state.nights;
  const refs = state.references;
  const refLines = refs
    ? [
        { v: refs.start.discounted_return.mean, label: `start (${state.config.start} constant)`, color: '#7f7f7f' },
        ...(state.config.start === 'tuned' ? [] : [{ v: refs.tuned.discounted_return.mean, label: 'tuned constant', color: '#000' }]),
        { v: refs.segments.discounted_return.mean, label: 'logged-state headroom (segments)', color: '#9467bd' },
        { v: refs.lookahead.discounted_return.mean, label: 'look-ahead (true model)', color: '#8c564b' },
      ]
    : [];
  const ys = [
    ...n.flatMap((x) => [x.served.discounted_return.ci95[0], x.served.discounted_return.ci95[1], x.candidate.truth?.discounted_return.mean ?? NaN]),
    ...refLines.map((r) => r.v),
  ].filter(Number.isFinite);
  const lo = Math.floor(Math.min(...ys, Infinity) / 5) * 5;
  const hi = Math.ceil(Math.max(...ys, -Infinity) / 5) * 5;
  const nights = Math.max(1, n.length);
  const x = (i: number) => M.l + ((i + 0.5) / nights) * (W - M.l - M.r);
  const y = (v: number) => M.t + (1 - (v - lo) / Math.max(1e-9, hi - lo)) * (H - M.t - M.b);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${M.l}" y="20" font-size="14" font-weight="bold">Closed loop from the ${state.config.start} constant${state.config.stress ? ' (stress)' : ''}: true discounted return per session</text>`,
  ];
  for (let k = 0; k <= 5; k++) {
    const v = lo + ((hi - lo) * k) / 5;
    out.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/><text x="${M.l - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(0)}</text>`);
  }
  n.forEach((r, i) => out.push(`<text x="${x(i)}" y="${H - M.b + 16}" text-anchor="middle">${r.night}</text>`));
  out.push(`<text x="${(M.l + W - M.r) / 2}" y="${H - 10}" text-anchor="middle">night</text>`);
  for (const r of refLines) {
    out.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${y(r.v)}" y2="${y(r.v)}" stroke="${r.color}" stroke-dasharray="6 4"/>`);
  }
  if (n.length > 0) {
    const band = [...n.map((r, i) => `${x(i)},${y(r.served.discounted_return.ci95[1])}`), ...[...n].reverse().map((r, j) => `${x(n.length - 1 - j)},${y(r.served.discounted_return.ci95[0])}`)];
    out.push(`<polygon points="${band.join(' ')}" fill="#1f77b4" fill-opacity="0.15"/>`);
    out.push(`<polyline points="${n.map((r, i) => `${x(i)},${y(r.served.discounted_return.mean)}`).join(' ')}" fill="none" stroke="#1f77b4" stroke-width="2"/>`);
    n.forEach((r, i) => {
      const t = r.candidate.truth?.discounted_return.mean;
      if (t === undefined || !Number.isFinite(t)) return;
      const fill = r.gate.decision === 'published' ? '#ff7f0e' : '#fff';
      out.push(`<circle cx="${x(i) + 8}" cy="${y(t)}" r="4.5" fill="${fill}" stroke="#ff7f0e" stroke-width="1.5"/>`);
    });
  }
  const legend: [string, string, string][] = [
    ['line', '#1f77b4', 'served version (95% CI band)'],
    ['dot', '#ff7f0e', 'candidate: ● published, ○ not'],
    ...refLines.map((r): [string, string, string] => ['dash', r.color, r.label]),
  ];
  legend.forEach(([kind, color, label], k) => {
    const lx = W - M.r + 14;
    const ly = M.t + 10 + 20 * k;
    if (kind === 'dot') out.push(`<circle cx="${lx + 10}" cy="${ly - 4}" r="4.5" fill="${color}" stroke="${color}"/>`);
    else out.push(`<line x1="${lx}" x2="${lx + 22}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2" ${kind === 'dash' ? 'stroke-dasharray="6 4"' : ''}/>`);
    out.push(`<text x="${lx + 28}" y="${ly}">${label.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
