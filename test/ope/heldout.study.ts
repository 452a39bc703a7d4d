/**
 * Would early stopping on a held-out TD error help FQE? (src/ope/README.md, "Open"): `npm run study:heldout`.
 *
 *   node --import tsx test/ope/heldout.study.ts --work /tmp/mtf-ope-study-s101 --seed 101 [--fqe '{json}']
 *
 * Needs a work folder the correlation study filled (`npm run study:ope -- --work … --seed …`: log,
 * trajectories, training runs, ground truths). Holds every 5th test session out of FQE's minibatches,
 * fits each of the study's policies with the FQE defaults (overridable with --fqe) and records, every
 * 100 steps, V̂ of the current iterate and the TD loss on the held-out rows. Prints, per policy, V̂ at
 * a few step counts and where the held-out TD is lowest, then ρ(V̂, truth) for three read-outs: the
 * default (Polyak average over the last half), the iterate at the held-out minimum, and the mean of the
 * iterates over [k/2, k] for that minimum k. Writes <work>/heldout.json.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readTrajectories } from '../../src/data/index.ts';
import { buildNeighbourhoods, chooseStarts, FqeConfigSchema, fitFqe, policyActions, opeDataOptions, prepareOpeData, sessionStarts, spearman, supportWeights } from '../../src/ope/index.ts';
import { initBackend, Rng } from '../../src/ope/rl.ts';
import { cachedStudy, cachedTruth } from './study.ts';

const { values: args } = parseArgs({ options: { work: { type: 'string', default: '/tmp/mtf-ope-study' }, seed: { type: 'string', default: '7' }, fqe: { type: 'string', default: '{}' } } });
const work = args.work;
const cfg = FqeConfigSchema.parse({ logEvery: 100, ...JSON.parse(args.fqe) });
await initBackend('auto', { threads: 1 });
const { o, traj, list } = await cachedStudy(work, Number(args.seed));
const { batch, metadata } = await readTrajectories(traj, 'test');
const d = prepareOpeData(batch, opeDataOptions(cfg, metadata));
const fitRows: number[] = [];
const heldRows: number[] = [];
for (let j = 0; j < d.sessions; j++) for (let p = d.ptr[j]; p < d.ptr[j + 1]; p++) (j % 5 === 4 ? heldRows : fitRows).push(d.order[p]);
const starts = chooseStarts(sessionStarts(d), cfg.initialStates, new Rng(cfg.seed));
const nb = buildNeighbourhoods(d, { states: d.n, neighbours: cfg.supportNeighbours, reference: cfg.supportReference, quantile: 0.95, seed: cfg.seed });

interface Row { name: string; truth: number; vHat: number; penaltyWeight: number; step: number[]; vHatCurve: number[]; heldOutTd: number[] }
const rows: Row[] = [];
for (const c of list) {
  const acts = await policyActions(c.evalPolicy, d, cfg.actionSamples);
  const w = c.evalPolicy.kind === 'behavior' ? null : supportWeights(d, nb, acts.pi, acts.samples, cfg.supportRamp);
  const fit = fitFqe(d, acts, { cfg, starts, pool: Int32Array.from(fitRows), holdout: Int32Array.from(heldRows), penaltyWeights: w });
  const row: Row = {
    name: c.name,
    truth: (await cachedTruth(o, c)).discounted_return.mean,
    vHat: fit.value[0],
    penaltyWeight: w ? w.reduce((x, y) => x + y, 0) / w.length : 0,
    step: fit.curves.step,
    vHatCurve: fit.curves.vHat,
    heldOutTd: fit.curves.heldOutTd,
  };
  rows.push(row);
  c.dispose?.();
  const at = (k: number) => row.vHatCurve[row.step.indexOf(k)]?.toFixed(1) ?? '–';
  const i = argmin(row.heldOutTd);
  console.log(
    `${c.name.padEnd(14)} truth ${row.truth.toFixed(1)}  V̂ ${row.vHat.toFixed(1)}  penalty weight ${row.penaltyWeight.toFixed(2)} | current iterate @1000 ${at(1000)} @2000 ${at(2000)} @3000 ${at(3000)} @${cfg.iterations} ${at(cfg.iterations)} | held-out TD lowest @${row.step[i]} (${row.heldOutTd[i].toFixed(4)}; last ${row.heldOutTd.at(-1)!.toFixed(4)}), V̂ there ${row.vHatCurve[i].toFixed(1)}`,
  );
}
writeFileSync(join(work, 'heldout.json'), JSON.stringify(rows) + '\n');

function argmin(x: number[]): number {
  return x.indexOf(Math.min(...x));
}
const readouts: Record<string, (r: Row) => number> = {
  'Polyak, last half (default)': (r) => r.vHat,
  'iterate at the held-out minimum': (r) => r.vHatCurve[argmin(r.heldOutTd)],
  'mean of iterates over [k/2, k]': (r) => {
    const k = r.step[argmin(r.heldOutTd)];
    const xs = r.vHatCurve.filter((_, j) => r.step[j] >= k / 2 && r.step[j] <= k);
    return xs.reduce((a, b) => a + b, 0) / xs.length;
  },
};
// in distribution: no penalty on any row (the support fade) — the study's OOD < 20% policies
const inD = rows.filter((r) => r.penaltyWeight < 0.2);
for (const [name, f] of Object.entries(readouts)) {
  const mre = inD.reduce((a, r) => a + Math.abs(f(r) - r.truth) / r.truth, 0) / inD.length;
  console.log(
    `${name.padEnd(32)} ρ ${spearman(rows.map(f), rows.map((r) => r.truth)).toFixed(3)}  in-distribution ρ ${spearman(inD.map(f), inD.map((r) => r.truth)).toFixed(3)}  in-distribution mean |relative error| ${(100 * mre).toFixed(1)}%`,
  );
}
