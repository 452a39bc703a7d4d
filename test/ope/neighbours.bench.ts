/**
 * `npm run bench:neighbours`: the evaluation's support neighbourhoods (every test row's 50 nearest
 * logged states among 5,000 reference rows, fqe.supportNeighbours / supportReference) — the exact
 * scalar scan against the BLAS path (src/ope/neighbours.ts), on the same queries in the same run,
 * checked to return the same neighbours.
 *
 *   npm run bench:neighbours -- --data <trajectories dir> [--queries 20000] [--rounds 3]
 *
 * Without --data it simulates and ingests the default log into /tmp/mtf-ope-bench (as bench:ope).
 * Prints per round the rows/s of each path, then the medians and their ratio, and what a full pass
 * over the test split costs at the median rates.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ingest, parseRewardWeights, readTrajectories } from '../../src/data/index.ts';
import { FqeConfigSchema } from '../../src/ope/config.ts';
import { opeDataOptions, prepareOpeData } from '../../src/ope/data.ts';
import { nativeKnn } from '../../src/ope/gram.ts';
import { knnBruteForce, knnGram } from '../../src/ope/neighbours.ts';
import { REWARD_SPEC, simulateLogs, defaultWorld } from '../../src/sim/index.ts';

const { values } = parseArgs({ options: { data: { type: 'string' }, queries: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '3' } } });
let traj = values.data;
if (!traj) {
  const work = '/tmp/mtf-ope-bench';
  traj = join(work, 'trajectories');
  if (!existsSync(join(traj, 'metadata.json'))) {
    const logs = join(work, 'logs');
    if (!existsSync(logs)) await simulateLogs({ world: defaultWorld(), endDate: '2026-11-20', days: 4, sessionsPerDay: 10_000, seed: 7, out: logs });
    await ingest({ logs, window: { endDate: '2026-11-20', days: 3 }, reward: parseRewardWeights(REWARD_SPEC), out: traj });
  }
}
const native = nativeKnn(1);
if (!native.kernels) throw new Error(`bench:neighbours needs the native addon: ${native.reason}`);
const cfg = FqeConfigSchema.parse({});
const { batch, metadata } = await readTrajectories(traj, 'test');
const d = prepareOpeData(batch, opeDataOptions(cfg, metadata));
const nq = Math.min(d.n, Number(values.queries));
const step = d.n / Math.min(d.n, cfg.supportReference);
const input = {
  x: d.s,
  dim: d.stateDim,
  queries: Int32Array.from({ length: nq }, (_, i) => Math.floor((i * d.n) / nq)),
  ref: Int32Array.from({ length: Math.min(d.n, cfg.supportReference) }, (_, i) => Math.floor(i * step)),
  k: cfg.supportNeighbours,
};
console.log(`test split ${d.n} rows × ${d.stateDim} state dims; ${nq} queries, ${input.ref.length} reference rows, k = ${input.k}`);
const rate = { scan: [] as number[], blas: [] as number[] };
for (let r = 0; r < Number(values.rounds); r++) {
  let t = performance.now();
  const exact = knnBruteForce(input);
  const scan = (performance.now() - t) / 1000;
  t = performance.now();
  const fast = knnGram(input, native.kernels);
  const blas = (performance.now() - t) / 1000;
  let differ = 0;
  for (let i = 0; i < exact.length; i++) if (exact[i] !== fast[i]) differ++;
  if (differ) throw new Error(`the BLAS path returned ${differ} different neighbours`);
  rate.scan.push(nq / scan);
  rate.blas.push(nq / blas);
  console.log(`round ${r + 1}: scalar scan ${scan.toFixed(2)} s (${(nq / scan).toFixed(0)} rows/s), BLAS ${blas.toFixed(2)} s (${(nq / blas).toFixed(0)} rows/s, ${knnGram.lastFallbacks} queries fell back to the scan); same neighbours`);
}
const median = (x: number[]) => [...x].sort((a, b) => a - b)[Math.floor(x.length / 2)];
const [s, b] = [median(rate.scan), median(rate.blas)];
console.log(`median: scalar scan ${s.toFixed(0)} rows/s, BLAS ${b.toFixed(0)} rows/s — ${(b / s).toFixed(1)}× ; every row of this split (${d.n}): ${(d.n / s).toFixed(0)} s vs ${(d.n / b).toFixed(1)} s`);
