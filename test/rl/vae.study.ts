/**
 * The generative model G of Eq. (3) on simulated logs (src/rl/README.md §3.4): for each variant of
 * (action interval, reconstruction scaling, KL weight), G is trained alone (algo bc: the same G and loss
 * as inside BCQ) on an in-memory log of the default world's mixed multi-exploration, then measured:
 *   KL      the KL term per latent dimension at the end of training (≈ 0: G ignores z);
 *   FVU     the reconstruction error as a share of the normalised actions' variance (1 = the decoder
 *           returns the mean; comparable across scalings);
 *   decoded D(s, z) for z ~ N(0, I) at held-out states: per-state sd per coordinate (α units; the logs
 *           have 0.224), kurtosis (logs 4.92), share within ±0.1 of production (logs 0.472), sd of
 *           the per-state means across states;
 *   cand.   BCQ's n = 10 candidates (z clipped to ±0.5, Eq. 4): their per-state sd and the smallest gap
 *           between two candidates of one state (α units; 0 = identical candidates).
 *
 *   node --import tsx test/rl/vae.study.ts [--sessions 2000] [--steps 3000] [--hidden 64] [--seed 0] \
 *     [--variants paper-data,paper-sd4,std-kl1,std-kl0.5,std-kl0.25] [--markdown out.md]
 */
import { writeFileSync } from 'node:fs';
import { train } from '../../src/rl/index.ts';
import { DEFAULT_PRODUCTION_ALPHA } from '../../src/sim/index.ts';
import { candidateStats, LOGGED, loggedStats, mixtureCdf, normalCdf, spreadStats } from './generative.ts';
import { simulatedBatch } from './simBatch.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : def);
const sessions = Number(opt('sessions', '2000'));
const steps = Number(opt('steps', '3000'));
const hidden = Number(opt('hidden', '64'));
const seed = Number(opt('seed', '0'));
const evalStates = Number(opt('states', '200'));
const samples = Number(opt('samples', '200'));

/** name → config fields; `paper-*` = the paper's loss (interval units, KL weight 1). */
const VARIANTS: Record<string, Record<string, unknown>> = {
  default: {},
  'paper-data': { actionInterval: 'data', vaeActionScale: 'interval', klWeight: 1 },
  'paper-sd4': { actionInterval: { sd: 4 }, vaeActionScale: 'interval', klWeight: 1 },
  'interval-kl0.1': { actionInterval: { sd: 4 }, vaeActionScale: 'interval', klWeight: 0.1 },
  'interval-kl0.01': { actionInterval: { sd: 4 }, vaeActionScale: 'interval', klWeight: 0.01 },
  'std-kl1': { actionInterval: { sd: 4 }, vaeActionScale: 'standardized', klWeight: 1 },
  'std-kl0.5': { actionInterval: { sd: 4 }, vaeActionScale: 'standardized', klWeight: 0.5 },
  'std-kl0.35': { actionInterval: { sd: 4 }, vaeActionScale: 'standardized', klWeight: 0.35 },
  'std-kl0.25': { actionInterval: { sd: 4 }, vaeActionScale: 'standardized', klWeight: 0.25 },
  'std-kl0.1': { actionInterval: { sd: 4 }, vaeActionScale: 'standardized', klWeight: 0.1 },
  'std-data-kl0.5': { actionInterval: 'data', vaeActionScale: 'standardized', klWeight: 0.5 },
};
const names = opt('variants', 'paper-data,paper-sd4,std-kl1,std-kl0.5,std-kl0.25').split(',');
for (const v of names) if (!VARIANTS[v]) throw new Error(`unknown variant ${v} (have ${Object.keys(VARIANTS).join(', ')})`);

const A = 8;
const t0 = performance.now();
const batch = await simulatedBatch({ sessions, seed: 1000 + seed });
const held = await simulatedBatch({ sessions: Math.max(50, Math.ceil(evalStates / 10)), seed: 9000 + seed });
const S = batch.stateDim;
const idx = Array.from({ length: Math.min(evalStates, held.n) }, (_, i) => Math.floor((i * held.n) / Math.min(evalStates, held.n)));
const states = new Float32Array(idx.length * S);
idx.forEach((r, i) => states.set(held.state.subarray(r * S, (r + 1) * S), i * S));
const logged = loggedStats(batch.action, batch.n, A, DEFAULT_PRODUCTION_ALPHA);
const f = (x: number, d = 3) => x.toFixed(d);
let gaussKs = 0;
for (let x = -1; x <= 1; x += 1e-4) gaussKs = Math.max(gaussKs, Math.abs(normalCdf(x / LOGGED.sd) - mixtureCdf(x)));
const lines: string[] = [];
const say = (l: string) => {
  lines.push(l);
  console.log(l);
};
say(`${sessions} sessions (${batch.n} rows, log seed ${1000 + seed}), G ${hidden}-wide, ${steps} steps, batch 256, training seed ${seed}; ${idx.length} held-out states × ${samples} samples`);
say(`logged α: sd ${f(logged.sd)} (exact ${f(LOGGED.sd)}), kurtosis ${f(logged.kurtosis, 2)} (exact ${f(LOGGED.kurtosis, 2)}), within ±0.1 of production ${f(logged.near)} (exact ${LOGGED.near}), KS to the exact mixture ${f(logged.ks)}; a Gaussian of sd ${f(LOGGED.sd)}: KS ${f(gaussKs)}`);
say('');
say('| variant | interval | scaling | KL weight | KL / latent dim | FVU | decoded sd | kurtosis | within ±0.1 | KS to the mixture | sd of per-state means | max \|bias\| | cand. sd (zClip 0.5) | cand. min gap | s |');
say('|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const v of names) {
  const cfg = VARIANTS[v];
  const t1 = performance.now();
  const { policy, report } = await train({
    batch,
    config: { algo: 'bc', steps, seed, vaeHidden: [hidden, hidden], logEvery: Math.min(500, steps), checkpointEvery: 1e9, probeStates: 64, ...cfg },
    progress: 'none',
  });
  try {
    const fin = report.final;
    // FVU: the reconstruction error over the normalised actions' variance (standardized: already per unit variance)
    const norm = policy.normalization;
    const u = new Float64Array(A);
    for (let j = 0; j < A; j++) {
      let m = 0;
      let q = 0;
      for (let i = 0; i < batch.n; i++) {
        const lo = norm.actionMin[j];
        const hi = norm.actionMax[j];
        const x = Math.min(1, Math.max(-1, (2 * (batch.action[i * A + j] - lo)) / (hi - lo) - 1));
        m += x / batch.n;
        q += (x * x) / batch.n;
      }
      u[j] = q - m * m;
    }
    const meanVar = u.reduce((a, b) => a + b, 0) / A;
    const fvu = (report.config as { vaeActionScale: string }).vaeActionScale === 'standardized' ? fin.vaeRecon! : fin.vaeRecon! / meanVar;
    const dec = spreadStats(policy.sampleGenerator(states, idx.length, samples, { seed: 1 }), idx.length, samples, A, DEFAULT_PRODUCTION_ALPHA);
    const cand = candidateStats(policy.sampleGenerator(states, idx.length, 10, { seed: 2, zClip: 0.5 }), idx.length, 10, A);
    const run = report.config as { actionInterval: 'data' | { sd: number }; vaeActionScale: string; klWeight: number };
    const box = typeof run.actionInterval === 'string' ? 'data [min, max]' : `mean ± ${run.actionInterval.sd} sd`;
    say(
      `| ${v} | ${box} | ${run.vaeActionScale} | ${run.klWeight} | ${f(fin.vaeKl!, 4)} | ${f(fvu)} | ${f(dec.sd)} | ${f(dec.kurtosis, 2)} | ${f(dec.near)} | ${f(dec.ks)} | ${f(dec.sdOfMeans)} | ${f(Math.max(...dec.bias.map(Math.abs)))} | ${f(cand.sd)} | ${f(cand.minGap)} | ${((performance.now() - t1) / 1000).toFixed(0)} |`,
    );
  } finally {
    policy.dispose();
  }
}
say('');
say(`total ${((performance.now() - t0) / 1000).toFixed(0)} s`);
const md = opt('markdown', '');
if (md) writeFileSync(md, lines.join('\n') + '\n');
