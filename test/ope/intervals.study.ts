/**
 * Do the bootstrap intervals cover the truth? (src/ope/README.md, "Intervals"): `npm run study:intervals`.
 *
 *   node --import tsx test/ope/intervals.study.ts --work /tmp/mtf-ope-study-s101 --seed 101 [--bootstrap 4] [--warm]
 *
 * Needs a work folder the correlation study filled (`npm run study:ope -- --work … --seed … --tag -seed<N>`:
 * trajectories, training runs, ground truths and its ope-report-seed<N>.json, whose warm-started
 * intervals are the comparison). Evaluates the study's in-distribution policies and the random one with
 * cold bootstrap refits — each a fresh initialisation trained the full K steps on a session resample
 * (bootstrapWarmStart false) — or, with --warm, the library's default bootstrap (20 refits of 1000 steps
 * started from the full-data fit), and prints, per policy, the intervals' half-widths, the refits, and
 * how many intervals hold the true value; then the in-distribution ρ of the full fit, of each refit,
 * and of their mean (bagging). Writes <work>/intervals-cold.json or intervals-warm.json.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readTrajectories } from '../../src/data/index.ts';
import { evaluatePolicies, spearman } from '../../src/ope/index.ts';
import { cachedStudy, cachedTruth } from './study.ts';

const { values: args } = parseArgs({ options: { work: { type: 'string', default: '/tmp/mtf-ope-study' }, seed: { type: 'string', default: '7' }, bootstrap: { type: 'string' }, warm: { type: 'boolean', default: false } } });
const work = args.work;
const seed = Number(args.seed);
const warmMode = args.warm;
const B = Number(args.bootstrap ?? (warmMode ? 20 : 4));
const study = await cachedStudy(work, seed);
const { o, traj } = study;
// TD3 and the best constant are wholly out of distribution: the penalty, not the data, sets their values
const list = study.list.filter((c) => !/^td3|^best-constant|^tuned-constant|^hand-tuned/.test(c.name));
const { batch, metadata } = await readTrajectories(traj, 'test');
const report = await evaluatePolicies({ batch, metadata, dataDir: traj, policies: list.map((c) => c.evalPolicy), config: warmMode ? { bootstrap: B } : { bootstrap: B, bootstrapWarmStart: false, bootstrapIterations: null }, onProgress: (l) => process.stderr.write(l + '\n') });
const warmFile = join(work, `ope-report-seed${seed}.json`);
const warm = existsSync(warmFile) ? (JSON.parse(readFileSync(warmFile, 'utf8')) as { policies: { name: string; ci95: [number, number] }[]; config: { bootstrap: number; bootstrapIterations: number | null } }) : null;
const rows = [];
for (const [i, c] of list.entries()) {
  const p = report.policies[i];
  rows.push({ name: c.name, truth: (await cachedTruth(o, c)).discounted_return.mean, vHat: p.v_hat, ci95: p.ci95, refits: p.bootstrap.values, warmCi95: warm?.policies.find((w) => w.name === c.name)?.ci95 ?? null });
  c.dispose?.();
}
writeFileSync(join(work, `intervals-${warmMode ? 'warm' : 'cold'}.json`), JSON.stringify(rows) + '\n');
const half = (ci: [number, number] | null) => (ci ? `±${((ci[1] - ci[0]) / 2).toFixed(1)}` : '–');
const holds = (ci: [number, number] | null, t: number) => ci !== null && t >= ci[0] && t <= ci[1];
for (const r of rows) {
  console.log(`${r.name.padEnd(12)} truth ${r.truth.toFixed(1)}  V̂ ${r.vHat.toFixed(1)}  the study's ${half(r.warmCi95)}${holds(r.warmCi95, r.truth) ? ' (holds)' : ''}  this ${half(r.ci95)}${holds(r.ci95, r.truth) ? ' (holds)' : ''}  refits ${r.refits.map((v) => v.toFixed(1)).join(' ')}`);
}
if (warm) console.log(`the study's bootstrap (${warm.config.bootstrap} × ${warm.config.bootstrapIterations} warm-started steps): ${rows.filter((r) => holds(r.warmCi95, r.truth)).length} of ${rows.length} intervals hold the truth`);
console.log(`this bootstrap (${B} × ${report.config.bootstrapIterations ?? report.config.fqe.iterations} steps, ${report.config.bootstrapWarmStart ? 'warm-started' : 'cold'}): ${rows.filter((r) => holds(r.ci95, r.truth)).length} of ${rows.length}`);
const inD = rows.filter((r) => r.name !== 'random');
const g = inD.map((r) => r.truth);
const perRefit = Array.from({ length: B }, (_, b) => spearman(inD.map((r) => r.refits[b]), g).toFixed(3));
const bagged = inD.map((r) => (r.vHat + r.refits.reduce((a, v) => a + v, 0)) / (B + 1));
console.log(`in-distribution ρ: full fit ${spearman(inD.map((r) => r.vHat), g).toFixed(3)}; each refit ${perRefit.join(' ')}; mean of full fit and refits ${spearman(bagged, g).toFixed(3)}`);
