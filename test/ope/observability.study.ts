/**
 * Is the logged state enough for FQE? (src/ope/README.md, "Open", session 6): `npm run study:observability`.
 *
 *   node --import tsx test/ope/observability.study.ts --work /tmp/mtf-ope-study-s202 --seed 202
 *     [--inputs logged,totals,satisfaction,latent] [--policies behavior,production,bc@5000,bcq@2500,…] [--fqe '{json}'] [--tag=-x]
 *
 * FQE assumes the logged state s is Markov. The simulator's users carry a latent satisfaction S and
 * fatigue F (src/sim README §1.6) that the logged state sees only through EMAs of the last few views.
 * This study refits FQE (the defaults, or --fqe) on the test split of a work folder the correlation study
 * filled, with Q reading the logged state plus one of:
 *   logged        nothing (the product's FQE)
 *   totals        the session's running totals of the reward and every logged response (from the log)
 *   satisfaction  the simulator's latent S before and after each request (re-simulated: no log has it)
 *   latent        S and F
 * The policies still act on the logged state. Prints each policy's V̂, truth (the study's cached ground
 * truth) and lift over behavior per input set, and the Spearman ρ; writes <work>/observability<tag>.json.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readTrajectories } from '../../src/data/index.ts';
import { buildNeighbourhoods, chooseStarts, FqeConfigSchema, fitFqe, policyActions, opeDataOptions, prepareOpeData, sessionStarts, sessionTotals, spearman, supportWeights, withQInputs, type OpeData, type QInputs } from '../../src/ope/index.ts';
import { initBackend, Rng } from '../../src/ope/rl.ts';
import { simulateDays, type Engine } from '../../src/sim/index.ts';
import { cachedStudy, cachedTruth, studyLogOptions, type StudyOptions } from './study.ts';

const INPUTS = ['logged', 'totals', 'satisfaction', 'latent'] as const;
type InputSet = (typeof INPUTS)[number];

const { values: args } = parseArgs({
  options: {
    work: { type: 'string', default: '/tmp/mtf-ope-study' },
    seed: { type: 'string', default: '7' },
    inputs: { type: 'string', default: INPUTS.join(',') },
    policies: { type: 'string', default: 'behavior,production,bc@5000,bcq@2500,bcq@5000,bcq@7500,bcq@10000' },
    fqe: { type: 'string', default: '{}' },
    tag: { type: 'string', default: '' },
  },
});
const inputs = args.inputs.split(',') as InputSet[];
const bad = inputs.filter((x) => !INPUTS.includes(x));
if (bad.length > 0) throw new Error(`--inputs: ${bad.join(', ')} unknown (have ${INPUTS.join(', ')})`);
await initBackend('auto', { threads: 1 });
const { o, traj, list: all } = await cachedStudy(args.work, Number(args.seed));
const names = args.policies.split(',');
const missing = names.filter((n) => !all.some((c) => c.name === n));
if (missing.length > 0) throw new Error(`--policies: ${missing.join(', ')} not in ${args.work} (have ${all.map((c) => c.name).join(', ')})`);
const list = names.map((n) => all.find((c) => c.name === n)!);
const { batch, metadata } = await readTrajectories(traj, 'test');
const cfg = FqeConfigSchema.parse(JSON.parse(args.fqe));
const base = prepareOpeData(batch, opeDataOptions(cfg, metadata));
const starts = chooseStarts(sessionStarts(base), cfg.initialStates, new Rng(cfg.seed));
const nb = buildNeighbourhoods(base, { states: base.n, neighbours: cfg.supportNeighbours, reference: cfg.supportReference, quantile: 0.95, seed: cfg.seed });
const latent = inputs.some((x) => x === 'satisfaction' || x === 'latent') ? await recordLatent(o, base) : null;
const truths = new Map<string, number>();
for (const c of list) truths.set(c.name, (await cachedTruth(o, c)).discounted_return.mean);

interface Row { inputs: InputSet; name: string; vHat: number; truth: number }
const rows: Row[] = [];
const spearmans: Record<string, number> = {};
try {
  for (const x of inputs) {
    const d = qData(x);
    const at: Row[] = [];
    for (const c of list) {
      const acts = await policyActions(c.evalPolicy, d, cfg.actionSamples);
      const w = c.evalPolicy.kind === 'behavior' ? null : supportWeights(d, nb, acts.pi, acts.samples, cfg.supportRamp);
      const fit = fitFqe(d, acts, { cfg, starts, penaltyWeights: w });
      const row: Row = { inputs: x, name: c.name, vHat: fit.value[0], truth: truths.get(c.name)! };
      at.push(row);
      const ref = at[0];
      console.log(
        `${x.padEnd(12)} ${c.name.padEnd(12)} V̂ ${row.vHat.toFixed(2).padStart(7)}  truth ${row.truth.toFixed(2).padStart(7)}  error ${pct(row.vHat / row.truth - 1)}` +
          `  lift over ${ref.name}: estimated ${pct(row.vHat / ref.vHat - 1)}, true ${pct(row.truth / ref.truth - 1)}`,
      );
    }
    rows.push(...at);
    if (at.length >= 3) {
      spearmans[x] = spearman(at.map((r) => r.vHat), at.map((r) => r.truth));
      console.log(`${x}: Spearman ρ(V̂, truth) over these ${at.length} policies = ${spearmans[x].toFixed(3)}`);
    }
  }
} finally {
  for (const c of all) c.dispose?.();
}
writeFileSync(
  join(args.work, `observability${args.tag}.json`),
  JSON.stringify({ command: `node --import tsx test/ope/observability.study.ts ${process.argv.slice(2).join(' ')}`, transitions: batch.n, fqe: JSON.parse(args.fqe), spearman: spearmans, policies: rows }, null, 1) + '\n',
);

function qData(x: InputSet): OpeData {
  if (x === 'logged') return base;
  if (x === 'totals') return withQInputs(base, sessionTotals([batch.reward, ...Object.values(batch.feedback)], base));
  const F = x === 'latent' ? 2 : 1;
  const pick = (src: Float32Array) => Float32Array.from({ length: base.n * F }, (_, k) => src[Math.floor(k / F) * 2 + (k % F)]);
  return withQInputs(base, { before: pick(latent!.before), after: pick(latent!.after), dim: F });
}

/**
 * The latent (S, F) of every test row, re-simulated: the study's log is deterministic in its options, so
 * simulating the same days again replays the same sessions; Engine.latent is read after each request
 * (`after`, beside s′), and `before` (beside s) is the session's previous request's `after` — (0, 0),
 * the start's mean satisfaction and no fatigue, on a session's first request.
 */
async function recordLatent(o: StudyOptions, d: OpeData): Promise<QInputs> {
  const key = (id: string, step: number) => `${id}|${step}`;
  const testSessions = new Set(batch.sessionIds);
  const seen = new Map<string, [number, number]>();
  let pending: { session: number[]; step: number[]; sat: number[]; fat: number[] } = { session: [], step: [], sat: [], fat: [] };
  const observe = {
    onStep(e: Engine, s: number) {
      const l = e.latent(s);
      pending.session.push(e.session[s]);
      pending.step.push(e.step[s]);
      pending.sat.push(l.satisfaction);
      pending.fat.push(l.fatigue);
    },
  };
  for await (const day of simulateDays({ ...studyLogOptions(o), observe })) {
    for (let k = 0; k < pending.session.length; k++) {
      const id = day.rows.sessionIds[pending.session[k]];
      if (testSessions.has(id)) seen.set(key(id, pending.step[k]), [pending.sat[k], pending.fat[k]]);
    }
    pending = { session: [], step: [], sat: [], fat: [] };
  }
  const before = new Float32Array(d.n * 2);
  const after = new Float32Array(d.n * 2);
  let found = 0;
  for (let i = 0; i < d.n; i++) {
    const id = batch.sessionIds[batch.sessionIndex[i]];
    const a = seen.get(key(id, batch.step[i]));
    const b = seen.get(key(id, batch.step[i] - 1));
    if (a) {
      found++;
      after.set(a, i * 2);
    }
    if (b) before.set(b, i * 2);
  }
  if (found !== d.n) throw new Error(`re-simulating the log found the latent state of ${found} of ${d.n} test rows: the work folder was not made with these options`);
  return { before, after, dim: 2 };
}

function pct(x: number): string {
  return `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`;
}
