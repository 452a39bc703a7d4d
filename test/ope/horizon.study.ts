/**
 * Where along the horizon does FQE lose the in-distribution policies? (src/ope/README.md, "Open"):
 * `npm run study:horizon`.
 *
 *   node --import tsx test/ope/horizon.study.ts --work /tmp/mtf-ope-study-s202 --seed 202
 *     [--gammas 0,0.5,0.8,0.95] [--policies behavior,production,bc@5000,bcq@2500,…] [--fqe '{json}'] [--tag=-x]
 *
 * Needs a work folder the correlation study filled (`npm run study:ope -- --work … --seed …`). For each
 * discount γ, fits FQE (the defaults, overridable with --fqe; γ replaced) to each policy on the test
 * split and rolls the policy out in the simulator with the same γ (20,000 sessions, the study's truth
 * seed). γ = 0 is the one-step reward model alone — V̂ = mean over s₀ of Q(s₀, π(s₀)) ≈ E[r₀] — and each
 * larger γ adds more of the continuation. Prints, per γ, each policy's V̂, truth and error, its lift over
 * the behavior policy (estimated vs true: does FQE see what the action changes?) and the Spearman ρ of the
 * policies given. `--split train` fits on the train split instead (9× the rows; the rows the policies
 * learnt from). Writes <work>/horizon<tag>.json.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readTrajectories } from '../../src/data/index.ts';
import { buildNeighbourhoods, chooseStarts, FqeConfigSchema, fitFqe, policyActions, opeDataOptions, prepareOpeData, sessionStarts, spearman, supportWeights } from '../../src/ope/index.ts';
import { initBackend, Rng } from '../../src/ope/rl.ts';
import { asPolicy, defaultWorld, rollout } from '../../src/sim/index.ts';
import { cachedStudy } from './study.ts';

const { values: args } = parseArgs({
  options: {
    work: { type: 'string', default: '/tmp/mtf-ope-study' },
    seed: { type: 'string', default: '7' },
    gammas: { type: 'string', default: '0,0.5,0.8,0.95' },
    // the study's in-distribution policies (OOD share 0–5%): the behavior first, as the lifts' reference
    policies: { type: 'string', default: 'behavior,production,bc@5000,bcq@2500,bcq@5000,bcq@7500,bcq@10000' },
    fqe: { type: 'string', default: '{}' },
    // fit FQE on the test split (the paper's §4.1, the default) or on the train split (9× the rows, but the
    // rows the policies were trained on)
    split: { type: 'string', default: 'test' },
    tag: { type: 'string', default: '' },
  },
});
const work = args.work;
const gammas = args.gammas.split(',').map(Number);
const names = args.policies.split(',');
await initBackend('auto', { threads: 1 });
const { o, traj, list: all } = await cachedStudy(work, Number(args.seed));
const missing = names.filter((n) => !all.some((c) => c.name === n));
if (missing.length > 0) throw new Error(`--policies: ${missing.join(', ')} not in ${work} (have ${all.map((c) => c.name).join(', ')})`);
const list = names.map((n) => all.find((c) => c.name === n)!);
if (args.split !== 'test' && args.split !== 'train') throw new Error(`--split: test or train, not ${args.split}`);
const { batch, metadata } = await readTrajectories(traj, args.split);

interface Row { gamma: number; name: string; vHat: number; truth: number; penaltyWeight: number }
const rows: Row[] = [];
try {
  for (const gamma of gammas) {
    const cfg = FqeConfigSchema.parse({ ...JSON.parse(args.fqe), gamma });
    const d = prepareOpeData(batch, opeDataOptions(cfg, metadata));
    const starts = chooseStarts(sessionStarts(d), cfg.initialStates, new Rng(cfg.seed));
    const nb = buildNeighbourhoods(d, { states: d.n, neighbours: cfg.supportNeighbours, reference: cfg.supportReference, quantile: 0.95, seed: cfg.seed });
    const atGamma: Row[] = [];
    for (const c of list) {
      const acts = await policyActions(c.evalPolicy, d, cfg.actionSamples);
      const w = c.evalPolicy.kind === 'behavior' ? null : supportWeights(d, nb, acts.pi, acts.samples, cfg.supportRamp);
      const fit = fitFqe(d, acts, { cfg, starts, penaltyWeights: w });
      // the study's truth (cachedTruth: 20,000 sessions, seed 2024), at this γ
      const r = await rollout({ world: defaultWorld(), policy: asPolicy(c.simPolicy()), sessions: o.truthSessions, seed: 2024, gamma });
      const truth = r.discountedReturn.reduce((a, b) => a + b, 0) / r.sessions;
      const row: Row = { gamma, name: c.name, vHat: fit.value[0], truth, penaltyWeight: w ? w.reduce((a, b) => a + b, 0) / w.length : 0 };
      atGamma.push(row);
      const ref = atGamma[0];
      console.log(
        `γ ${String(gamma).padEnd(4)} ${c.name.padEnd(12)} V̂ ${row.vHat.toFixed(2).padStart(7)}  truth ${truth.toFixed(2).padStart(7)}  error ${pct((row.vHat - truth) / truth)}` +
          `  lift over ${ref.name}: estimated ${pct(row.vHat / ref.vHat - 1)}, true ${pct(truth / ref.truth - 1)}  penalty weight ${row.penaltyWeight.toFixed(2)}`,
      );
    }
    rows.push(...atGamma);
    if (atGamma.length >= 3) console.log(`γ ${gamma}: Spearman ρ(V̂, truth) over these ${atGamma.length} policies = ${spearman(atGamma.map((r) => r.vHat), atGamma.map((r) => r.truth)).toFixed(3)}`);
  }
} finally {
  for (const c of all) c.dispose?.();
}
writeFileSync(join(work, `horizon${args.tag}.json`), JSON.stringify({ command: `node --import tsx test/ope/horizon.study.ts ${process.argv.slice(2).join(' ')}`, split: args.split, transitions: batch.n, fqe: JSON.parse(args.fqe), policies: rows }, null, 1) + '\n');

function pct(x: number): string {
  return `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`;
}
