/**
 * What the logged data says about the effect of α, without any critic (src/rl/README.md §3.1). The logged
 * α is production + independent noise, so a least-squares fit of an outcome on α (with intercept) estimates
 * its average slope in α, unconfounded by the state:
 *   r     the immediate reward (what a critic that cannot see the delayed damage learns),
 *   done  whether the session ends at this step,
 *   G     the Monte Carlo discounted return from this step on (logged behavior afterwards).
 * Then it moves the production α by ±`step` per coordinate along each fitted slope (scaled so that the
 * largest coordinate moves by `step`) and rolls the two constant policies out against the behavior policy.
 *
 *   node --import tsx test/rl/diagnose.ts <trajectories dir> [--step 0.22] [--sessions 3000] [--seed 101]
 */
import { readTrajectories } from '../../src/data/index.ts';
import { DEFAULT_PRODUCTION_ALPHA, GAMMA, TASK_NAMES, behaviorPolicy, compareTruth, constantPolicy, type Estimate } from '../../src/sim/index.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : def);
const dir = args[0];
if (!dir || dir.startsWith('--')) throw new Error('usage: diagnose.ts <trajectories dir> [--step 0.22] [--sessions 3000] [--seed 101]');
const step = Number(opt('step', '0.22'));
const sessions = Number(opt('sessions', '3000'));
const seed = Number(opt('seed', '101'));

const { batch: b } = await readTrajectories(dir, 'train');
const A = b.actionDim;
const n = b.n;
const G = new Float64Array(n);
for (let i = n - 1; i >= 0; i--) {
  const last = b.done[i] || b.truncated[i] || i === n - 1 || b.sessionIndex[i + 1] !== b.sessionIndex[i];
  G[i] = b.reward[i] + (last ? 0 : GAMMA * G[i + 1]);
}

/** Least squares of y on the centred α: slopes and their 95% half-widths. */
function slopes(y: (i: number) => number): { beta: number[]; half: number[] } {
  const mean = new Float64Array(A);
  for (let i = 0; i < n; i++) for (let j = 0; j < A; j++) mean[j] += b.action[i * A + j] / n;
  let ym = 0;
  for (let i = 0; i < n; i++) ym += y(i) / n;
  const M = Array.from({ length: A }, () => new Float64Array(A + 1));
  for (let i = 0; i < n; i++) {
    const yi = y(i) - ym;
    for (let j = 0; j < A; j++) {
      const xj = b.action[i * A + j] - mean[j];
      M[j][A] += xj * yi;
      for (let k = 0; k < A; k++) M[j][k] += xj * (b.action[i * A + k] - mean[k]);
    }
  }
  const diag = M.map((r, j) => r[j]);
  for (let c = 0; c < A; c++) for (let r = c + 1; r < A; r++) {
    const f = M[r][c] / M[c][c];
    for (let k = c; k <= A; k++) M[r][k] -= f * M[c][k];
  }
  const beta = new Array<number>(A).fill(0);
  for (let r = A - 1; r >= 0; r--) {
    let s = M[r][A];
    for (let k = r + 1; k < A; k++) s -= M[r][k] * beta[k];
    beta[r] = s / M[r][r];
  }
  let rss = 0;
  for (let i = 0; i < n; i++) {
    let p = ym;
    for (let j = 0; j < A; j++) p += beta[j] * (b.action[i * A + j] - mean[j]);
    rss += (y(i) - p) ** 2;
  }
  return { beta, half: diag.map((d) => 1.96 * Math.sqrt(rss / n / d)) };
}

const fits = { r: slopes((i) => b.reward[i]), done: slopes((i) => b.done[i]), G: slopes((i) => G[i]) };
console.log(`${n} train rows; slope per unit of α (± 95%)`);
console.log(['', ...TASK_NAMES].join(' | '));
for (const [k, f] of Object.entries(fits)) console.log([k, ...f.beta.map((v, j) => `${v.toFixed(k === 'done' ? 4 : 2)} ± ${f.half[j].toFixed(k === 'done' ? 4 : 2)}`)].join(' | '));

const ci = (e: Estimate) => `${e.mean.toFixed(1)} [${e.ci95[0].toFixed(1)}, ${e.ci95[1].toFixed(1)}]`;
for (const k of ['r', 'G'] as const) {
  const d = fits[k].beta;
  const m = Math.max(...d.map(Math.abs));
  const alpha = DEFAULT_PRODUCTION_ALPHA.map((p, j) => p + (step * d[j]) / m);
  const c = await compareTruth(behaviorPolicy(), constantPolicy(alpha), { sessions, seed });
  console.log(`production moved along the ${k} slope: α = (${alpha.map((v) => v.toFixed(2)).join(', ')}); discounted return − behavior: ${ci(c.diff.discounted_return)}`);
}
