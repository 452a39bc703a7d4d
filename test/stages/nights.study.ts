/**
 * `npm run study:nights [-- --out <dir>] [--nights 7] [--only tuned|hand-tuned|stress]`: the closed
 * loop (issue 18 §3–4) at the demo's sizes — 7 nights from the tuned constant (the paper's setting), 7
 * from the legacy hand-tuned constant, and a stress run of 4 nights from the tuned constant whose
 * candidates are bad on purpose (TD3, a wrong reward spec, a wrong β, half a day of data); then the
 * three runs again with the gate's paired rule (publish.gate: paired). Each run is
 * `mtf loop` in <out>/<run>/ (loop.json, loop.html) and resumable: run the study again to continue.
 * Prints one markdown table per run (the figures in src/stages/README.md) and the gate's score.
 * ≈ 4–5 min per night on 2 cores.
 */
import { parseArgs } from 'node:util';
import { runLoop, type LoopStart } from '../../src/stages/loop.ts';
import type { LoopState, NightRecord } from '../../src/stages/loopRecord.ts';

const { values } = parseArgs({ options: { out: { type: 'string', default: 'out/nights' }, nights: { type: 'string', default: '7' }, only: { type: 'string' } } });
const nights = Number(values.nights);
const runs: { name: string; start: LoopStart; stress: boolean; nights: number; gate: 'interval' | 'paired' }[] = [
  { name: 'tuned', start: 'tuned', stress: false, nights, gate: 'interval' },
  { name: 'hand-tuned', start: 'hand-tuned', stress: false, nights, gate: 'interval' },
  { name: 'stress', start: 'tuned', stress: true, nights: 4, gate: 'interval' },
  { name: 'tuned-paired', start: 'tuned', stress: false, nights, gate: 'paired' },
  { name: 'hand-tuned-paired', start: 'hand-tuned', stress: false, nights, gate: 'paired' },
  { name: 'stress-paired', start: 'tuned', stress: true, nights: 4, gate: 'paired' },
];

const pct = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)}%`;
const ci = (c: [number, number] | null | undefined, f = (x: number) => x.toFixed(1)) => (c ? `[${f(c[0])}, ${f(c[1])}]` : '');

function table(s: LoopState): string {
  const r = s.references!;
  const lines = [
    `references (truth, ${s.config.sizes.truthSessions} sessions, seed ${s.config.truthSeed}; lift vs the ${s.config.start} constant): ` +
      ['tuned', 'segments', 'lookahead'].map((k) => `${r[k as 'tuned'].name} ${r[k as 'tuned'].discounted_return.mean.toFixed(1)} (${pct(r[k as 'tuned'].lift_vs_start.mean)})`).join('; '),
    '',
    '| night | served | served truth (lift vs start) | online control readout | candidate | candidate truth vs served (paired 95% CI) | OPE V̂ candidate [CI] vs baseline | gate | verdict | s |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const n of s.nights) {
    const v = n.candidate.v_hat;
    const verdict = n.verdict.harmful ? '**harmful**' : n.verdict.below_served ? 'below served (CI ∋ 0)' : n.verdict.wrongly_rejected ? '**wrongly rejected**' : 'ok';
    lines.push(
      `| ${n.night} | ${n.served.version ?? `${s.config.start} constant`} | ${n.served.discounted_return.mean.toFixed(1)} (${pct(n.served.lift_vs_start.mean)} ${ci(n.served.lift_vs_start.ci95, pct)}) | ` +
        `${n.online ? `${n.online.discounted_return.mean.toFixed(1)} ${ci(n.online.discounted_return.ci95)} (${n.online.control_sessions} sessions)` : '–'} | ${n.candidate.kind} | ` +
        `${n.candidate.lift_vs_served ? `${pct(n.candidate.lift_vs_served.mean)} ${ci(n.candidate.lift_vs_served.ci95, pct)}` : '–'} | ` +
        `${v ? `${v.v_hat.toFixed(1)} ${ci(v.ci95)}` : '–'} vs ${n.baseline ? `${n.baseline.name} ${n.baseline.v_hat.toFixed(1)}` : '–'} | ${n.gate.decision} | ${verdict} | ${n.seconds.total.toFixed(0)} |`,
    );
  }
  const last = s.nights.at(-1);
  if (last) {
    // after the last night: what CURRENT names then (the last candidate if it was published)
    const after = last.gate.decision === 'published' && last.candidate.truth ? last.candidate.truth : last.served;
    lines.push('', `after night ${last.night}: serving ${last.current_after ?? `the ${s.config.start} constant`}, true discounted return ${after.discounted_return.mean.toFixed(1)}, lift vs the ${s.config.start} constant ${pct(after.lift_vs_start.mean)} ${ci(after.lift_vs_start.ci95, pct)} (paired)`);
  }
  return lines.join('\n');
}

function score(all: NightRecord[]): string {
  const published = all.filter((n) => n.gate.decision === 'published');
  const better = all.filter((n) => (n.candidate.lift_vs_served?.mean ?? 0) > 0.01);
  return [
    `nights ${all.length}; published ${published.length}; harmful publishes (paired CI below 0) ${all.filter((n) => n.verdict.harmful).length}; ` +
      `published below the served mean (CI ∋ 0) ${all.filter((n) => n.verdict.below_served && !n.verdict.harmful).length}; ` +
      `candidates truly better by > 1% ${better.length}, rejected ${all.filter((n) => n.verdict.wrongly_rejected).length}`,
    `night duration: median ${median(all.map((n) => n.seconds.total)).toFixed(0)} s, max ${Math.max(...all.map((n) => n.seconds.total)).toFixed(0)} s`,
  ].join('\n');
}

function median(x: number[]): number {
  const s = [...x].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const all: NightRecord[] = [];
for (const r of runs) {
  if (values.only && values.only !== r.name) continue;
  const t0 = performance.now();
  const state = await runLoop({ dir: `${values.out}/${r.name}`, start: r.start, nights: r.nights, size: 'demo', stress: r.stress, gate: r.gate, say: (l) => process.stderr.write(`[${r.name} ${((performance.now() - t0) / 1000).toFixed(0).padStart(5)} s] ${l}\n`) });
  all.push(...state.nights);
  process.stdout.write(`\n## ${r.name}${r.stress ? ' (stress: bad candidates)' : ''}${` (gate: ${r.gate})`}\n\n${table(state)}\n\n${score(state.nights)}\n`);
}
process.stdout.write(`\n## the gate over every night\n\n${score(all)}\n`);
