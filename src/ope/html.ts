/**
 * ope-report.html: one self-contained page (no network needed to open it). Tables are rendered here as
 * HTML; the charts are drawn in the browser by Chart.js, whose UMD bundle is inlined from node_modules
 * together with the report's JSON.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { FLAG_EXPLANATIONS, type FlagCode } from './assess.ts';
import type { OpePolicyResult, OpeReport } from './schemas.ts';

let chartJs: string | null = null;

/** The Chart.js UMD bundle (read once). */
export function chartBundle(): string {
  if (chartJs === null) {
    // The package's exports do not list the UMD file; it sits beside the CommonJS entry (dist/).
    const main = createRequire(import.meta.url).resolve('chart.js');
    chartJs = readFileSync(join(dirname(main), 'chart.umd.min.js'), 'utf8');
  }
  return chartJs;
}

const esc = (s: unknown): string =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function num(x: number | null | undefined, digits = 4): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return x.toExponential(2);
  return x.toPrecision(digits);
}

const pct = (x: number | null | undefined): string => (x === null || x === undefined || !Number.isFinite(x) ? '–' : `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`);
const ci = (c: [number, number] | null | undefined, f: (x: number) => string = (x) => num(x)): string => (c ? `[${f(c[0])}, ${f(c[1])}]` : '');
const date = (ms: number | null): string => (ms === null ? '–' : new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC');

/** The policies, then the live model unless it is one of them. */
function withBaseline(r: OpeReport): OpePolicyResult[] {
  return r.baseline && !r.policies.some((p) => p.name === r.baseline!.name) ? [...r.policies, r.baseline] : r.policies;
}

function verdictBadge(p: OpePolicyResult): string {
  return `<span class="badge ${p.verdict}">${esc(p.verdict)}</span>`;
}

/** The gate's reasons beyond the comparison the statement already gives (support, doubly robust disagreement). */
function gateReasons(p: OpePolicyResult): string {
  const extra = p.kind === 'behavior' ? [] : p.reasons.slice(1);
  return extra.length ? `<br><small>${extra.map(esc).join('<br>')}</small>` : '';
}

function summaryTable(r: OpeReport): string {
  const hasBaseline = r.baseline !== null;
  const rows = withBaseline(r).map((p) => {
    const isLive = p.name === r.baseline?.name;
    const liftCell = p.lift ? `${pct(p.lift.rel)}<br><small>${ci(p.lift.rel_ci95, pct)}</small>` : '–';
    const liveCell = p.vs_baseline ? `${pct(p.vs_baseline.rel)}<br><small>${ci(p.vs_baseline.rel_ci95, pct)}</small>` : '–';
    const is = p.importance ? `${num(p.importance.pdwis.mean)} / ${num(p.importance.wdr.mean)}<br><small>ESS₀ ${num(p.importance.ess[0], 3)}</small>` : `<small class="wrap">${esc(p.importance_note ?? '–')}</small>`;
    return `<tr>
      <td><b>${esc(p.name)}</b>${isLive ? ' <small>(live)</small>' : ''}<br><small class="src">${esc(p.source)}</small></td>
      <td class="n">${num(p.v_hat)}<br><small>${ci(p.ci95)}</small></td>
      <td class="n">${liftCell}</td>
      ${hasBaseline ? `<td class="n">${liveCell}</td>` : ''}
      <td class="n">${is}</td>
      <td class="n ${p.ood.share > r.config.shipMaxOod ? 'bad' : ''}">${(100 * p.ood.share).toFixed(0)}%</td>
      <td>${isLive ? '<span class="badge reference">live</span>' : verdictBadge(p)} ${p.flags.map((f) => `<span class="flag" title="${esc(f.message)}">${esc(f.code)}</span>`).join(' ')}<br><span class="words">${esc(p.assessment.statement)}</span>${gateReasons(p)}</td>
    </tr>`;
  });
  return `<table class="summary">
    <thead><tr><th>policy</th><th>V̂ (FQE)<br><small>95% CI</small></th><th>lift vs behavior<br><small>95% CI</small></th>${hasBaseline ? '<th>vs live<br><small>95% CI</small></th>' : ''}<th>PDWIS / WDR</th><th>OOD share</th><th>verdict</th></tr></thead>
    <tbody>${rows.join('')}</tbody></table>`;
}

/** Every flag that fired: what it means once per code, then each policy's numbers. */
function diagnosticsSection(r: OpeReport): string {
  const byCode = new Map<FlagCode, string[]>();
  for (const f of r.flags) byCode.set(f.code, [...(byCode.get(f.code) ?? []), `report: ${f.message}`]);
  for (const p of withBaseline(r)) for (const f of p.flags) byCode.set(f.code, [...(byCode.get(f.code) ?? []), `${p.name}: ${f.message}`]);
  if (byCode.size === 0) return '<p class="note">No diagnostic fired: FQE converged over its read-out window, Σ w·v̂ agrees with V̂, enough refits, no degenerate importance weights, every policy in the logged support.</p>';
  const items = [...byCode.entries()].map(
    ([code, lines]) => `<div class="box warn"><b>${esc(code)}</b> — ${esc(FLAG_EXPLANATIONS[code])}<br><small>${lines.map(esc).join('<br>')}</small></div>`,
  );
  return items.join('\n');
}

/** The tie-aware order: policies the log cannot tell apart share a rank. */
function rankingSection(r: OpeReport): string {
  const v = new Map(withBaseline(r).map((p) => [p.name, p.v_hat]));
  const rows = [...r.ranking.ranks]
    .sort((a, b) => a.rank - b.rank || (v.get(b.name) ?? 0) - (v.get(a.name) ?? 0))
    .map((x) => `<tr><td class="n">${x.rank}</td><td><b>${esc(x.name)}</b></td><td class="n">${num(v.get(x.name))}</td><td class="n">${x.wins}</td><td class="n">${x.losses}</td><td>${x.ties.length ? x.ties.map(esc).join(', ') : '–'}</td></tr>`);
  return `<table><thead><tr><th>rank</th><th>policy</th><th>V̂</th><th>better than</th><th>worse than</th><th>cannot be told apart from</th></tr></thead><tbody>${rows.join('')}</tbody></table>
  <p class="note">Each pair's difference V̂(a) − V̂(b) is recomputed on every bootstrap resample (the same sessions for every policy), giving a paired 95% interval; where it includes 0 the pair is a tie — the log cannot order them, and ordering them by the point estimates would be ordering by noise. Rank = by wins − losses; ties share a rank. The intervals cover resampling of sessions and FQE refits, not FQE's bias: on three simulated logs (src/ope/README.md "Can it be trusted?") 7–9 of the 39–51 pairs they resolved among 11 in-distribution policies were ordered against the truth.</p>`;
}

/** The online control group(s): on-policy returns of the served version, next to its V̂. */
function controlBox(r: OpeReport): string {
  if (r.control_groups.length === 0) return '';
  const live = r.baseline ? ` FQE's V̂ of the served model (${esc(r.baseline.name)}): <b>${num(r.baseline.v_hat)}</b> ${ci(r.baseline.ci95)}.` : '';
  const lines = r.control_groups.map((g) => `${esc(g.policy_id)}: <b>${num(g.mean)}</b> ${ci(g.ci95)} over ${g.sessions - g.cut_sessions} uncut sessions (${g.cut_sessions} cut by the window left out)`);
  return `<div class="box ok"><b>Online control group</b> (sessions served by the published model without exploration; their mean discounted return is an on-policy estimate of its value, no model involved):<br>${lines.join('<br>')}.${live}</div>`;
}

function perResponseTable(r: OpeReport): string {
  const all = withBaseline(r);
  const names = all[0]?.per_response.map((x) => x.name) ?? [];
  if (names.length === 0) return '<p>Per-response values are off (fqe.perResponse = false).</p>';
  const head = names.map((n) => `<th>${esc(n)}<br><small>w = ${num(r.data.reward_weights[n] ?? 1, 3)}</small></th>`).join('');
  const rows = all.map(
    (p) =>
      `<tr><td><b>${esc(p.name)}</b></td>${p.per_response.map((x) => `<td class="n">${num(x.v_hat)}<br><small>${ci(x.ci95)}</small></td>`).join('')}<td class="n">${num(p.per_response_weighted_sum)}<br><small>V̂ ${num(p.v_hat)}</small></td></tr>`,
  );
  return `<table><thead><tr><th>policy</th>${head}<th>Σ w·v̂</th></tr></thead><tbody>${rows.join('')}</tbody></table>
  <p class="note">Expected discounted sum of each response from a session start (separate FQE heads on a shared network). Σ w·v̂ should be close to V̂: where it is farther than V̂'s interval the policy is flagged per_response_mismatch (Diagnostics).</p>`;
}

function changesTable(r: OpeReport): string {
  if (!r.baseline) return '';
  const live = r.baseline;
  const names = r.data.action_names;
  const rows = r.policies
    .filter((p) => p.kind !== 'behavior' && p.name !== live.name)
    .map((p) => {
      const cells = names.map((_, j) => {
        const dm = p.actions.mean[j] - live.actions.mean[j];
        return `<td class="n">${num(live.actions.mean[j], 3)} → ${num(p.actions.mean[j], 3)}<br><small class="${Math.abs(dm) > r.logged_actions.std[j] ? 'bad' : ''}">Δ ${dm >= 0 ? '+' : ''}${num(dm, 2)}</small></td>`;
      });
      return `<tr><td><b>${esc(p.name)}</b><br><small>V̂ ${num(live.v_hat)} → ${num(p.v_hat)} (${pct(p.vs_baseline?.rel)})</small></td>${cells.join('')}</tr>`;
    });
  return `<h2>What changed since the live model (${esc(live.name)})</h2>
  <p class="note">Mean α per dimension, live → new; Δ in red where it exceeds one standard deviation of the logged α (the spread the data shows).</p>
  <table><thead><tr><th>policy</th>${names.map((n) => `<th>${esc(n)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>
  <div class="grid" id="changes"></div>`;
}

function behaviorBox(r: OpeReport): string {
  const b = r.behavior;
  return `<div class="box ${b.check}">
    <b>Sanity check — behavior policy: ${b.check === 'ok' ? 'OK' : 'WARNING'}.</b> ${esc(b.note)}.<br>
    FQE of the logged actions: V̂ = ${num(b.v_hat)} ${ci(b.ci95)} on all ${r.data.initial_states} initial states;
    ${num(b.v_hat_complete)} on the ${b.empirical_complete.sessions} uncut sessions, whose empirical discounted return is
    ${num(b.empirical_complete.mean)} ${ci(b.empirical_complete.ci95)} (all ${b.empirical_all.sessions} sessions, cut ones stopping at the cut: ${num(b.empirical_all.mean)}).
  </div>`;
}

function dataBox(r: OpeReport): string {
  const d = r.data;
  const w = d.window ? `${esc(d.window.end_date)}, ${d.window.days} day(s): ${date(d.window.start_ms)} – ${date(d.window.end_ms)}` : 'none recorded';
  const weights = Object.entries(d.reward_weights).map(([k, v]) => `${num(v, 3)}·${esc(k)}`).join(' + ') || '–';
  return `<table class="kv">
    <tr><th>data</th><td>${esc(d.dir ?? '(in memory)')} — split <b>${esc(d.split)}</b></td></tr>
    <tr><th>window</th><td>${w}; requests ${date(d.first_request_ms)} – ${date(d.last_request_ms)}</td></tr>
    <tr><th>counts</th><td>${d.sessions} sessions, ${d.transitions} transitions (${d.terminal_transitions} terminal, ${d.truncated_transitions} cut by the window), ${d.initial_states} initial states</td></tr>
    <tr><th>reward</th><td>r = ${weights}; γ = ${r.config.fqe.gamma}</td></tr>
    <tr><th>estimator</th><td>conservative FQE (BatchRL-MTF Alg. 2): α = ${r.config.fqe.alpha}, K = ${r.config.fqe.iterations}, m = ${r.config.fqe.batchSize}, lr = ${r.config.fqe.lr}, Q ${JSON.stringify(r.config.fqe.hidden)};
      ${r.config.bootstrap} session-bootstrap refits of ${r.config.bootstrapIterations ?? r.config.fqe.iterations} steps${r.config.bootstrapWarmStart ? ' (warm-started)' : ''}</td></tr>
    <tr><th>action_logp</th><td>${d.has_action_logp ? 'logged: importance-sampling estimates shown' : 'not logged: FQE only'}</td></tr>
    <tr><th>computed</th><td>${esc(r.created_at)} on ${esc(r.backend)} in ${r.seconds.toFixed(0)} s</td></tr>
  </table>`;
}

const STYLE = `
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0} th,td{border:1px solid #ddd;padding:4px 8px;vertical-align:top} th{background:#f5f5f5;text-align:left}
td.n{text-align:right;white-space:nowrap} small{color:#666} .src{word-break:break-all} .wrap{white-space:normal;display:inline-block;max-width:16em;text-align:left}
table.kv th{width:110px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;color:#fff}
.badge.ship{background:#2e7d32}.badge.hold{background:#ef6c00}.badge.reject{background:#c62828}.badge.reference{background:#607d8b}
.bad{color:#c62828;font-weight:600}
.flag{display:inline-block;padding:0 6px;border-radius:4px;background:#fff3e0;border:1px solid #ffb74d;font-size:11px;color:#8d4b00}
.words{display:inline-block;max-width:28em;white-space:normal}
.box{padding:8px 12px;border-radius:6px;margin:12px 0}.box.ok{background:#e8f5e9;border:1px solid #a5d6a7}.box.warn{background:#fff3e0;border:1px solid #ffb74d}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:12px}
.chart{border:1px solid #eee;padding:6px;height:230px;position:relative}
.wide{height:300px} .note{color:#555;font-size:13px}
`;

/** The browser side: draws every chart from REPORT. Kept small and dependency-free beyond Chart.js. */
const CLIENT = `
(function(){
const R = REPORT;
Chart.defaults.animation = false;
Chart.defaults.font.size = 11;
const COLORS = ['#1565c0','#c62828','#2e7d32','#6a1b9a','#ef6c00','#00838f','#5d4037','#ad1457','#9e9d24','#455a64'];
const all = R.policies.concat(R.baseline && !R.policies.some(p => p.name === R.baseline.name) ? [R.baseline] : []);
const color = (i) => COLORS[i % COLORS.length];
function canvas(parent, cls, title){ const d=document.createElement('div'); d.className='chart '+(cls||''); const c=document.createElement('canvas'); d.appendChild(c); document.getElementById(parent).appendChild(d); return c; }
// V̂ with intervals: floating bars [lo, hi] and the point estimate
(function(){
  // The axis spans the values near the behavior policy's return (±60%); an estimate beyond it (a
  // diverged or heavily penalised one) is named in its label instead of flattening every other bar.
  const ref = Math.abs(R.behavior.empirical_all.mean) || 1;
  const near = (v) => v > R.behavior.empirical_all.mean - 0.6 * ref && v < R.behavior.empirical_all.mean + 0.6 * ref;
  const inside = all.flatMap(p => [p.v_hat, ...p.ci95]).concat([R.behavior.empirical_all.mean]).filter(near);
  const span = Math.max(...inside) - Math.min(...inside) || ref * 0.1;
  const step = Math.pow(10, Math.floor(Math.log10(span)));
  const yMin = Math.floor((Math.min(...inside) - 0.1 * span) / step) * step, yMax = Math.ceil((Math.max(...inside) + 0.1 * span) / step) * step;
  const labels = all.map(p => p.name + (R.baseline && p.name === R.baseline.name ? ' (live)' : '') + (near(p.v_hat) ? '' : ' (V̂ ' + Math.round(p.v_hat) + ', off scale)'));
  const ds = [
    { type:'bar', label:'FQE 95% CI', data: all.map(p => p.ci95), backgroundColor: all.map((p,i)=>color(i)+'55'), borderColor: all.map((p,i)=>color(i)), borderWidth:1 },
    { type:'scatter', label:'FQE V̂', data: all.map((p,i)=>({x: labels[i], y: p.v_hat})), backgroundColor:'#000', pointRadius:5, pointStyle:'line', borderWidth:3, borderColor:'#000' },
  ];
  if (all.some(p => p.importance)) {
    ds.push({ type:'scatter', label:'PDWIS', data: all.filter(p=>p.importance).map(p=>({x: labels[all.indexOf(p)], y: p.importance.pdwis.mean})), backgroundColor:'#ff9800', pointRadius:5, pointStyle:'triangle' });
    ds.push({ type:'scatter', label:'WDR', data: all.filter(p=>p.importance).map(p=>({x: labels[all.indexOf(p)], y: p.importance.wdr.mean})), backgroundColor:'#9c27b0', pointRadius:5, pointStyle:'rectRot' });
  }
  ds.push({ type:'line', label:'behavior (empirical return)', data: labels.map(()=>R.behavior.empirical_all.mean), borderColor:'#888', borderDash:[6,4], pointRadius:0, borderWidth:1 });
  new Chart(canvas('values','wide'), { data:{ labels, datasets: ds }, options:{ maintainAspectRatio:false, scales:{ x:{ type:'category' }, y:{ min: yMin, max: yMax, title:{display:true,text:'V̂ (discounted return)'} } }, plugins:{ title:{display:true,text:'Estimated value per policy (bars: FQE 95% interval)'} } } });
  new Chart(canvas('values','wide'), { type:'bar', data:{ labels, datasets:[{ label:'out-of-distribution share', data: all.map(p=>100*p.ood.share), backgroundColor: all.map(p => p.ood.share > R.config.shipMaxOod ? '#c62828' : '#78909c') }] }, options:{ maintainAspectRatio:false, scales:{ y:{ min:0, max:100, title:{display:true,text:'% of states'} } }, plugins:{ title:{display:true,text:'Actions far from every logged action at similar states (limit '+Math.round(100*R.config.shipMaxOod)+'%)'} } } });
})();
// FQE training curves: one chart per policy (their scales differ by orders of magnitude), V̂ of the
// current iterate on the left axis, the TD loss on the right; the penalties of all in one chart.
(function(){
  const fmt = (v) => { const x = Number(v); return x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential(1) : Number(x.toPrecision(3)); };
  all.forEach((p, i) => {
    const c = p.fqe.curves;
    new Chart(canvas('curves'), { type:'line', data:{ datasets: [
      { label:'V̂', yAxisID:'y', data: c.step.map((s,k)=>({x:s,y:c.v_hat[k]})), borderColor: color(i), pointRadius:0, borderWidth:1.8 },
      { label:'TD loss', yAxisID:'y1', data: c.step.map((s,k)=>({x:s,y:c.td_loss[k]})), borderColor:'#9e9e9e', borderDash:[4,3], pointRadius:0, borderWidth:1.2 },
    ] }, options:{ maintainAspectRatio:false, parsing:false, scales:{ x:{ type:'linear', min:0, max:c.step[c.step.length-1], title:{display:true,text:'FQE step'} }, y:{ position:'left', title:{display:true,text:'V̂'}, ticks:{ callback: fmt } }, y1:{ position:'right', grid:{ drawOnChartArea:false }, title:{display:true,text:'½·TD² (scaled)'}, ticks:{ callback: fmt } } }, plugins:{ title:{display:true,text:'FQE of ' + p.name} } } });
  });
  new Chart(canvas('curves'), { type:'line', data:{ datasets: all.map((p,i)=>({ label:p.name, data: p.fqe.curves.step.map((s,k)=>({x:s,y:p.fqe.curves.penalty[k]})), borderColor: color(i), pointRadius:0, borderWidth:1.5 })) }, options:{ maintainAspectRatio:false, parsing:false, scales:{ x:{ type:'linear', title:{display:true,text:'FQE step'} }, y:{ title:{display:true,text:'penalty (scaled)'}, ticks:{ callback: fmt } } }, plugins:{ title:{display:true,text: R.config.fqe.penalty === 'linear' ? 'CQL penalty α·(E_π Q − E_D Q)' : 'CQL(H) penalty α·τ·softplus((Q(s,π) − Q(s,a))/τ)' + (R.config.fqe.penaltySupport === 'nearest' ? ', faded where the data cover π' : '')} } } });
})();
// Action distributions per dim: logged vs each policy
// The first set is the reference (filled); a constant policy is a 100% spike, so the y axis is cut at
// 2.5× the reference's highest bin and the spike's height is in the legend instead.
function histCharts(parent, sets) {
  R.data.action_names.forEach((name, j) => {
    const e = R.action_histogram_edges[j];
    const mids = e.slice(0,-1).map((x,b)=>(x+e[b+1])/2);
    const refMax = 100 * Math.max(...sets[0].summary.histogram[j]);
    const top = Math.min(100, Math.ceil(2.5 * refMax));
    const label = (s) => { const m = 100 * Math.max(...s.summary.histogram[j]); return m > top ? s.label + ' (peak ' + m.toFixed(0) + '%)' : s.label; };
    new Chart(canvas(parent), { type:'line', data:{ datasets: sets.map(s => ({ label: label(s), data: mids.map((x,b)=>({x, y: 100*s.summary.histogram[j][b]})), borderColor:s.color, backgroundColor:s.fill || 'transparent', fill: !!s.fill, stepped:'middle', pointRadius:0, borderWidth:1.5 })) }, options:{ maintainAspectRatio:false, parsing:false, scales:{ x:{ type:'linear', min:e[0], max:e[e.length-1], title:{display:true,text:name} }, y:{ min:0, max: top, title:{display:true,text:'% of states'} } }, plugins:{ title:{display:true,text:'α['+j+'] '+name}, legend:{ labels:{ boxWidth:10 } } } } });
  });
}
histCharts('actions', [{ label:'logged', summary: R.logged_actions, color:'#9e9e9e', fill:'rgba(158,158,158,0.35)' }].concat(all.filter(p=>p.kind!=='behavior').map((p)=>({ label:p.name, summary:p.actions, color: color(all.indexOf(p)) }))));
if (R.baseline && document.getElementById('changes')) {
  histCharts('changes', [{ label: R.baseline.name+' (live)', summary: R.baseline.actions, color:'#607d8b', fill:'rgba(96,125,139,0.3)' }].concat(R.policies.filter(p=>p.kind!=='behavior' && p.name!==R.baseline.name).map((p)=>({ label:p.name, summary:p.actions, color: color(all.indexOf(p)) }))));
}
// Importance sampling: effective sample size per step
if (all.some(p => p.importance)) {
  new Chart(canvas('is','wide'), { type:'line', data:{ datasets: all.filter(p=>p.importance).map(p=>({ label:p.name, data:p.importance.ess.map((v,t)=>({x:t,y:100*v/Math.max(1,p.importance.observed[t])})), borderColor: color(all.indexOf(p)), pointRadius:0, borderWidth:1.5 })) }, options:{ maintainAspectRatio:false, parsing:false, scales:{ x:{type:'linear', title:{display:true,text:'step t'}}, y:{ type:'logarithmic', title:{display:true,text:'ESS, % of sessions observed'} } }, plugins:{ title:{display:true,text:'Effective sample size of the importance weights'} } } });
}
})();
`;

/** The whole page. */
export function renderHtml(r: OpeReport): string {
  const json = JSON.stringify(r).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
  const isSection = r.data.has_action_logp
    ? `<h2>Importance sampling</h2><p class="note">Per-decision weighted IS and weighted doubly robust (FQE's Q as model) with a Gaussian kernel around π(s) (bandwidth per dim in ope-report.json). A small effective sample size means the estimate rests on few sessions.</p><div class="grid" id="is"></div>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Off-policy evaluation — ${esc(r.policies.map((p) => p.name).join(', '))}</title>
<style>${STYLE}</style></head>
<body>
<h1>Off-policy evaluation</h1>
<p class="note">batchrl-mtf · conservative FQE with session-bootstrap intervals · ${esc(r.created_at)}</p>
${dataBox(r)}
${behaviorBox(r)}
<h2>Summary</h2>
${summaryTable(r)}
<p class="note">Verdict: <b>ship</b> = better than the ${r.baseline ? 'live model' : 'behavior policy'} with 95% confidence and at most ${(100 * r.config.shipMaxOod).toFixed(0)}% of actions out of distribution; <b>reject</b> = worse with 95% confidence; <b>hold</b> = otherwise. FQE is conservative (CQL penalty): values of out-of-distribution policies are pushed down.</p>
<p class="note"><b>PDWIS</b>: per-decision weighted importance sampling — the logged rewards reweighted by how much likelier π makes each logged action (no model). <b>WDR</b>: weighted doubly robust — FQE's Q corrected by the same weights. <b>ESS₀</b>: the effective number of sessions the weights rest on at the first step; when it is a small share of the sessions, both say little.</p>
${controlBox(r)}
<div class="grid" id="values"></div>
<h2>Diagnostics</h2>
${diagnosticsSection(r)}
<h2>The order the log can vouch for</h2>
${rankingSection(r)}
<h2>Per-response values</h2>
${perResponseTable(r)}
${changesTable(r)}
<h2>Action distributions (policy vs logged data)</h2>
<p class="note">α per dimension on the ${r.data.transitions} evaluation states; grey: the logged actions.</p>
<div class="grid" id="actions"></div>
<h2>FQE training curves</h2>
<div class="grid" id="curves"></div>
${isSection}
<h2>Configuration</h2>
<pre style="font-size:12px;background:#fafafa;padding:8px;overflow:auto">${esc(JSON.stringify(r.config, null, 2))}</pre>
<script>${chartBundle()}</script>
<script>const REPORT = ${json};</script>
<script>${CLIENT}</script>
</body></html>
`;
}
