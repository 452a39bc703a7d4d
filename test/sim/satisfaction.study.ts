/**
 * How much of the latent satisfaction S does the logged state carry? (src/sim/README.md §1.5, issue 16 §3):
 * `npm run study:satisfaction`.
 *
 *   node --import tsx test/sim/satisfaction.study.ts [--sessions 10000] [--seed 31] [--production tuned|hand-tuned] [--alt-rho 0.7]
 *
 * Rolls out behavior sessions (the mixed exploration around the tuned production α = BEST_CONSTANT_ALPHA,
 * or the legacy hand-tuned one) and fits S, read through the recorder hook (Engine.latent), by ordinary
 * least squares on each feature set of the logged state; reports R² on held-out behavior sessions, and
 * R² and the fit's under-prediction mean(S − Ŝ) on sessions of other constant policies. Rows pair the state s_t a request was served with with S before
 * that request (S after the session's previous view), so a session's first request, whose S_0 nothing
 * has seen yet, is left out. Feature sets:
 *   old          the first 24 state elements (the state before the item EMAs)
 *   old+latent   old + EMAs (ρ = ITEM_HISTORY_EMA, 0.8) of the shown items' latent quality q_i and
 *                clickbait c_i — the issue's reference; no stack can compute it
 *   new          the 28-element state: old + the EMAs (ρ = ITEM_HISTORY_EMA, 0.8) of the logged item signals
 *   new+extras   new + EMAs (ρ 0.7) of the shown item's fused score and of (finish − item completion rate)
 *   new(ρ=x)     old + the item-signal EMAs with ρ = --alt-rho (default 0.7) instead
 * Also prints how informative the item signals are (correlations with the latents they view).
 */
import { parseArgs } from 'node:util';
import { behaviorPolicy, BEST_CONSTANT_ALPHA, constantPolicy, defaultWorld, rollout, STATE_DIM, type Engine, type FusionPolicy } from '../../src/sim/index.ts';
import { HISTORY_EMA, ITEM_HISTORY_EMA, ITEM_HISTORY_OFFSET } from '../../src/sim/features.ts';
import { ITEM_SIGNAL_DIM } from '../../src/sim/itemSignals.ts';
import { corr } from './helpers.ts';

const { values: args } = parseArgs({
  options: {
    sessions: { type: 'string', default: '10000' },
    seed: { type: 'string', default: '31' },
    production: { type: 'string', default: 'tuned' },
    'alt-rho': { type: 'string', default: '0.7' },
  },
});
const sessions = Number(args.sessions);
const seed = Number(args.seed);
/** the hand-set watch-time α of the legacy scenario (the production α before the tuned one) */
const HAND_TUNED = [1.0, 0.5, 0.4, 0.2, 0.2, 0.2, 0.5, 1.2];
/** the best constant α of the calibration before the CMA-ES one (issue 16 measured against it) */
const PREVIOUS_BEST = [0.167, 0.333, 0.6, 1.2, 0.6, 1.2, 0.0444, 1.2];
const production = args.production === 'hand-tuned' ? HAND_TUNED : args.production === 'tuned' ? BEST_CONSTANT_ALPHA : null;
if (!production) throw new Error(`--production: expected tuned or hand-tuned, got ${args.production}`);
const world = defaultWorld();
/** the item EMAs' ρ of the variant feature set (the state's own is ITEM_HISTORY_EMA) */
const ALT_RHO = Number(args['alt-rho']);
const OLD = ITEM_HISTORY_OFFSET; // 24: the state before the item EMAs

/** Extra per-row columns the study computes beside the logged state. */
const EXTRA = ['latent_q_ema', 'latent_c_ema', 'fused_ema', 'completion_gap_ema', 'sig0_ema', 'sig1_ema', 'sig2_ema', 'sig3_ema'] as const;
const E = EXTRA.length;
const W = STATE_DIM + E;

interface Sample {
  n: number;
  x: Float32Array; // [n × W]
  y: Float64Array; // S before the request
}

/** Rolls `policy` out and records (state, extras, S before the request) for every request after a session's first. */
async function collect(policy: FusionPolicy, runSeed: number): Promise<Sample> {
  let y = new Float64Array(1 << 16);
  let x = new Float32Array(y.length * W);
  let n = 0;
  const slots = world.config.session.slots;
  const prevS = new Float64Array(slots);
  const ema = new Float64Array(slots * E); // the extras' running values
  const signalMean = world.itemSignalMean;
  const rho = HISTORY_EMA;
  const recorder = {
    onStep(e: Engine, s: number) {
      const step = e.step[s];
      const m = s * E;
      if (step === 0) {
        // start values: the catalog means (latent q, c: their means over items)
        ema[m] = meanOf(world.itemQuality);
        ema[m + 1] = meanOf(world.itemClickbait);
        ema[m + 2] = 0;
        ema[m + 3] = 0;
        for (let j = 0; j < ITEM_SIGNAL_DIM; j++) ema[m + 4 + j] = signalMean[j];
      } else {
        if (n === y.length) {
          y = grow(y, 2 * n);
          x = grow(x, 2 * n * W);
        }
        x.set(e.states.subarray(s * STATE_DIM, (s + 1) * STATE_DIM), n * W);
        for (let j = 0; j < E; j++) x[n * W + STATE_DIM + j] = ema[m + j];
        y[n] = prevS[s];
        n++;
      }
      prevS[s] = e.latent(s).satisfaction;
      // move the extras on with the item just shown (as the engine moves the state's EMAs on)
      const item = e.lastItem[s];
      const fin = e.lastFinish[s];
      const sig = world.itemSignal.subarray(item * ITEM_SIGNAL_DIM, (item + 1) * ITEM_SIGNAL_DIM);
      const upd = (j: number, v: number, r = rho) => (ema[m + j] = r * ema[m + j] + (1 - r) * v);
      upd(0, world.itemQuality[item], ITEM_HISTORY_EMA);
      upd(1, world.itemClickbait[item], ITEM_HISTORY_EMA);
      upd(2, e.shownFusedScore(s));
      upd(3, fin - sig[0]);
      for (let j = 0; j < ITEM_SIGNAL_DIM; j++) upd(4 + j, sig[j], ALT_RHO);
    },
  };
  await rollout({ world, policy, sessions, seed: runSeed, recorder });
  return { n, x, y };
}

type FeatureSet = { name: string; cols: number[] };
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
const ex = (name: (typeof EXTRA)[number]) => STATE_DIM + EXTRA.indexOf(name);
const SETS: FeatureSet[] = [
  { name: 'old', cols: range(0, OLD) },
  { name: 'old+latent', cols: [...range(0, OLD), ex('latent_q_ema'), ex('latent_c_ema')] },
  { name: `new (ρ=${ITEM_HISTORY_EMA})`, cols: range(0, STATE_DIM) },
  { name: 'new+extras', cols: [...range(0, STATE_DIM), ex('fused_ema'), ex('completion_gap_ema')] },
  { name: `new(ρ=${ALT_RHO})`, cols: [...range(0, OLD), ex('sig0_ema'), ex('sig1_ema'), ex('sig2_ema'), ex('sig3_ema')] },
];

/** OLS with an intercept through the normal equations (Cholesky; a 1e-9 ridge on the slopes for safety). */
function fit(d: Sample, cols: number[]): Float64Array {
  const p = cols.length + 1;
  const A = new Float64Array(p * p);
  const b = new Float64Array(p);
  const row = new Float64Array(p);
  for (let i = 0; i < d.n; i++) {
    row[0] = 1;
    for (let j = 0; j < cols.length; j++) row[j + 1] = d.x[i * W + cols[j]];
    for (let j = 0; j < p; j++) {
      b[j] += row[j] * d.y[i];
      for (let k = 0; k <= j; k++) A[j * p + k] += row[j] * row[k];
    }
  }
  for (let j = 1; j < p; j++) A[j * p + j] += 1e-9 * d.n;
  // Cholesky A = L Lᵀ in place (lower triangle), then two triangular solves.
  for (let j = 0; j < p; j++) {
    for (let k = 0; k < j; k++) A[j * p + j] -= A[j * p + k] ** 2;
    A[j * p + j] = Math.sqrt(A[j * p + j]);
    for (let i = j + 1; i < p; i++) {
      for (let k = 0; k < j; k++) A[i * p + j] -= A[i * p + k] * A[j * p + k];
      A[i * p + j] /= A[j * p + j];
    }
  }
  const z = new Float64Array(p);
  for (let i = 0; i < p; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= A[i * p + k] * z[k];
    z[i] = s / A[i * p + i];
  }
  const w = new Float64Array(p);
  for (let i = p - 1; i >= 0; i--) {
    let s = z[i];
    for (let k = i + 1; k < p; k++) s -= A[k * p + i] * w[k];
    w[i] = s / A[i * p + i];
  }
  return w;
}

/** R², bias mean(S − Ŝ) (> 0: the fit under-predicts S) and sd of S of a fitted set on a sample. */
function score(d: Sample, cols: number[], w: Float64Array): { r2: number; bias: number; sd: number } {
  let my = 0;
  for (let i = 0; i < d.n; i++) my += d.y[i];
  my /= d.n;
  let sse = 0;
  let sst = 0;
  let bias = 0;
  for (let i = 0; i < d.n; i++) {
    let f = w[0];
    for (let j = 0; j < cols.length; j++) f += w[j + 1] * d.x[i * W + cols[j]];
    const r = d.y[i] - f;
    sse += r * r;
    sst += (d.y[i] - my) ** 2;
    bias += r;
  }
  return { r2: 1 - sse / sst, bias: bias / d.n, sd: Math.sqrt(sst / d.n) };
}

function meanOf(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s / x.length;
}


function grow<T extends Float32Array | Float64Array>(a: T, n: number): T {
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a);
  return b;
}

const t0 = performance.now();
// How informative the logged item signals are.
const N = world.nItems;
const sig = (m: number) => Float64Array.from({ length: N }, (_, i) => world.itemSignal[i * ITEM_SIGNAL_DIM + m]);
const truth = (m: number) => Float64Array.from({ length: N }, (_, i) => world.itemTrueRates[i * 2 + m]);
const imp = Int32Array.from(world.itemImpressions).sort();
console.log(`item signals (${N} items): corr(quality score, q) ${corr(sig(2), world.itemQuality).toFixed(3)}, corr(clickbait score, c) ${corr(sig(3), world.itemClickbait).toFixed(3)}, ` +
  `corr(completion rate, its population rate) ${corr(sig(0), truth(0)).toFixed(3)}, corr(interaction rate, its population rate) ${corr(sig(1), truth(1)).toFixed(3)}; ` +
  `past impressions n_i quartiles ${imp[N >> 2]}, ${imp[N >> 1]}, ${imp[(3 * N) >> 2]}; catalog means ${Array.from(world.itemSignalMean, (v) => v.toFixed(3)).join(', ')}`);

const prodName = args.production === 'hand-tuned' ? 'hand-tuned' : 'tuned';
const train = await collect(behaviorPolicy({ config: { productionAlpha: [...production] } }), seed);
const heldout = await collect(behaviorPolicy({ config: { productionAlpha: [...production] } }), seed + 1);
const others: [string, FusionPolicy][] = [
  ['const hand-tuned α', constantPolicy(HAND_TUNED)],
  ['const tuned α (BEST_CONSTANT_ALPHA)', constantPolicy(BEST_CONSTANT_ALPHA)],
  ['const interactions only (0,0,1,1,1,1,0,0)', constantPolicy([0, 0, 1, 1, 1, 1, 0, 0])],
  ['const previous best α', constantPolicy(PREVIOUS_BEST)],
];
const evals: [string, Sample][] = [[`behavior around ${prodName} α (held out)`, heldout]];
for (const [name, p] of others) evals.push([name, await collect(p, seed + 2)]);
console.log(`\nbehavior around the ${prodName} production α: ${train.n} rows fitted (${sessions} sessions, seed ${seed}); sd of S ${score(train, [], fit(train, [])).sd.toFixed(2)}`);
console.log(`\n| feature set | ${evals.map(([n]) => n).join(' | ')} |`);
console.log(`|---|${evals.map(() => '---').join('|')}|`);
for (const set of SETS) {
  const w = fit(train, set.cols);
  const cells = evals.map(([, d]) => {
    const r = score(d, set.cols, w);
    return `R² ${r.r2.toFixed(3)}, S−Ŝ ${r.bias >= 0 ? '+' : ''}${r.bias.toFixed(3)}`;
  });
  console.log(`| ${set.name} (${set.cols.length}) | ${cells.join(' | ')} |`);
}
console.log(`\nsd of S per sample: ${evals.map(([n, d]) => `${n} ${score(d, [], fit(d, [])).sd.toFixed(2)}`).join('; ')}`);
console.log(`(${((performance.now() - t0) / 1000).toFixed(1)} s)`);
