/**
 * loop.html: the nightly loop on one self-contained page (Chart.js inlined, as the OPE report): true
 * value of the served version over nights with its CI, the candidates', the control group's online
 * readout, and the reference lines (start constant, tuned constant, logged-state headroom, look-ahead);
 * then a table of every night with the gate's decision and the verdict.
 */
import { chartBundle } from '../ope/html.ts';
import type { LoopState } from './loopRecord.ts';

const esc = (s: unknown): string => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const pct = (x: number | null | undefined): string => (x === null || x === undefined || !Number.isFinite(x) ? '–' : `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)}%`);
const num = (x: number | null | undefined, d = 1): string => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(d));
const ci = (c: [number, number] | null | undefined, f: (x: number) => string = (x) => num(x)): string => (c ? `[${f(c[0])}, ${f(c[1])}]` : '');

export function loopHtml(state: LoopState): string {
  const c = state.config;
  const n = state.nights;
  const refs = state.references;
  const labels = n.map((x) => `night ${x.night}`);
  const line = (label: string, data: (number | null)[], color: string, dash = false) => ({ label, data, borderColor: color, backgroundColor: color, borderDash: dash ? [6, 4] : [], pointRadius: dash ? 0 : 3, spanGaps: true });
  const flat = (v: number | undefined) => n.map(() => v ?? null);
  const datasets = [
    line('served version (truth)', n.map((x) => x.served.discounted_return.mean), '#1f77b4'),
    line('served CI lo', n.map((x) => x.served.discounted_return.ci95[0]), '#9ecae1', true),
    line('served CI hi', n.map((x) => x.served.discounted_return.ci95[1]), '#9ecae1', true),
    line('candidate (truth)', n.map((x) => x.candidate.truth?.discounted_return.mean ?? null), '#ff7f0e'),
    line('candidate OPE V̂', n.map((x) => x.candidate.v_hat?.v_hat ?? null), '#d62728'),
    line('online control group', n.map((x) => x.online?.discounted_return.mean ?? null), '#2ca02c'),
    line(`start: ${refs?.start.name ?? ''}`, flat(refs?.start.discounted_return.mean), '#7f7f7f', true),
    line('tuned constant', flat(refs?.tuned.discounted_return.mean), '#000000', true),
    line('logged-state headroom (segments)', flat(refs?.segments.discounted_return.mean), '#9467bd', true),
    line('look-ahead', flat(refs?.lookahead.discounted_return.mean), '#8c564b', true),
  ];
  const rows = n
    .map(
      (x) => `<tr>
    <td>${x.night}<br><small>${esc(x.date)}</small></td>
    <td>${esc(x.served.id)}<br><small>${num(x.served.discounted_return.mean)} ${ci(x.served.discounted_return.ci95)}; ${pct(x.served.lift_vs_start.mean)} vs start</small></td>
    <td>${x.online ? `${num(x.online.discounted_return.mean)} ${ci(x.online.discounted_return.ci95)}<br><small>${x.online.control_sessions} sessions</small>` : '–'}</td>
    <td>${esc(x.candidate.kind)} ${esc(x.candidate.version ?? '')}<br><small>truth ${num(x.candidate.truth?.discounted_return.mean)}; ${pct(x.candidate.lift_vs_served?.mean)} ${ci(x.candidate.lift_vs_served?.ci95, pct)} vs served</small></td>
    <td>${num(x.candidate.v_hat?.v_hat)} ${ci(x.candidate.v_hat?.ci95)}<br><small>vs ${esc(x.baseline?.name ?? '–')} ${num(x.baseline?.v_hat)}</small></td>
    <td class="${x.gate.decision}"><b>${esc(x.gate.decision)}</b><br><small>${esc(x.gate.reason)}</small></td>
    <td>${x.verdict.harmful ? '<b class="bad">harmful</b>' : x.verdict.below_served ? 'below served (CI ∋ 0)' : x.verdict.wrongly_rejected ? '<b>wrongly rejected</b>' : 'ok'}</td>
    <td>${num(x.seconds.total, 0)} s</td></tr>`,
    )
    .join('\n');
  const harmful = n.filter((x) => x.verdict.harmful).length;
  const better = n.filter((x) => (x.candidate.lift_vs_served?.mean ?? 0) > 0.01);
  const wrong = n.filter((x) => x.verdict.wrongly_rejected).length;
  return `<!doctype html><html><head><meta charset="utf-8"><title>batchrl-mtf loop: ${esc(c.start)}${c.stress ? ' (stress)' : ''}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:1300px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 6px;vertical-align:top}small{color:#555}.published{background:#e8f5e9}.rejected{background:#fff3e0}.refused{background:#fdecea}.bad{color:#b00}</style>
<script>${chartBundle()}</script></head><body>
<h1>Nightly loop from the ${esc(c.start)} constant${c.stress ? ' — stress run' : ''}</h1>
<p>${n.length} nights at size <b>${esc(c.size)}</b> (${c.sizes.sessionsPerDay} sessions/day, ${c.sizes.trainSteps} ${esc((c.algo ?? 'bcq').toUpperCase())} steps${c.trainConfig && Object.keys(c.trainConfig).length ? ` with ${esc(JSON.stringify(c.trainConfig))}` : ''}, ${esc(c.exploration ?? 'gaussian')} exploration, truth on ${c.sizes.truthSessions} sessions, seed ${c.truthSeed}).
Harmful publishes: <b>${harmful}</b>; candidates truly better by &gt; 1%: ${better.length}, of which rejected: ${wrong}.
Truth is the simulator's, for this page only: the gate decided with the OPE report and its checks.</p>
<canvas id="value" height="110"></canvas>
<script id="data" type="application/json">${JSON.stringify({ labels, datasets }).replace(/</g, '\\u003c')}</script>
<script>const d=JSON.parse(document.getElementById('data').textContent);new Chart(document.getElementById('value'),{type:'line',data:d,options:{plugins:{title:{display:true,text:'true discounted return per session (γ 0.95)'}},scales:{y:{title:{display:true,text:'discounted return'}}}}});</script>
<h2>Nights</h2>
<table><tr><th>night</th><th>served (truth)</th><th>online control group</th><th>candidate (truth)</th><th>OPE V̂ [CI]</th><th>gate</th><th>verdict</th><th>time</th></tr>
${rows}</table>
</body></html>
`;
}
