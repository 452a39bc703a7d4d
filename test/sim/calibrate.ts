/**
 * Calibration of the default world (README §4): searches the best constant α and the per-type oracle
 * α, then evaluates the reference policies on held-out sessions with common random numbers.
 *
 *   node --import tsx test/sim/calibrate.ts            # search + evaluate (a few minutes)
 *   node --import tsx test/sim/calibrate.ts --eval     # evaluate the α stored in src/sim/calibrated.ts
 *   node --import tsx test/sim/calibrate.ts --check    # the comparisons of calibration.test.ts, on 3 seeds
 *
 * Options: --search-sessions N (3000), --eval-sessions N (10000), --eval-seed S (999).
 * The printed α go into src/sim/calibrated.ts, the table into README §4.
 */
import { parseArgs } from 'node:util';
import {
  BEST_CONSTANT_ALPHA,
  behaviorPolicy,
  compareResults,
  constantPolicy,
  DEFAULT_PRODUCTION_ALPHA,
  defaultWorld,
  LOOKAHEAD_CONTINUATION,
  lookaheadPolicy,
  myopicPolicy,
  ORACLE_ALPHA_BY_TYPE,
  oraclePolicy,
  referencePolicies,
  rollout,
  searchConstantAlpha,
  summarize,
  type FusionPolicy,
  type RolloutResult,
} from '../../src/sim/index.ts';
import { oneStepCandidates } from '../../src/sim/calibrated.ts';

const { values } = parseArgs({
  options: {
    eval: { type: 'boolean', default: false },
    check: { type: 'boolean', default: false },
    'search-sessions': { type: 'string', default: '3000' },
    'eval-sessions': { type: 'string', default: '10000' },
    'eval-seed': { type: 'string', default: '999' },
  },
});
const world = defaultWorld();
const searchSessions = Number(values['search-sessions']);
const evalSessions = Number(values['eval-sessions']);
const evalSeed = Number(values['eval-seed']);
const t0 = performance.now();
const round = (a: number[]) => a.map((x) => Number(x.toPrecision(3)));
const log = (s: string) => process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(0)} s] ${s}\n`);

if (values.check) {
  // The sizes of calibration.test.ts (seed 4242) and two more seeds.
  const refs = referencePolicies();
  const seeds = [4242, 1, 2];
  const pct = (x: { mean: number; ci95: [number, number] }) => `${x.mean >= 0 ? '+' : ''}${(100 * x.mean).toFixed(1)}% [${(100 * x.ci95[0]).toFixed(1)}, ${(100 * x.ci95[1]).toFixed(1)}]`;
  const cmp = async (a: () => FusionPolicy, b: () => FusionPolicy, n: number, seed: number, m: 'return' | 'discounted_return') =>
    pct(compareResults(await rollout({ world, policy: a(), sessions: n, seed }), await rollout({ world, policy: b(), sessions: n, seed })).relative[m]);
  const rows: string[][] = [
    ['best vs production, return (2,000 sessions)'],
    ['oracle vs best, return (3,000)'],
    ['look-ahead vs myopic, discounted return (1,000)'],
  ];
  for (const seed of seeds) {
    rows[0].push(await cmp(refs.production, refs.best, 2000, seed, 'return'));
    rows[1].push(await cmp(refs.best, refs.oracle, 3000, seed, 'return'));
    rows[2].push(await cmp(refs.myopic, refs.lookahead, 1000, seed, 'discounted_return'));
    log(`seed ${seed} done`);
  }
  const out = [`| claim | ${seeds.map((s) => `seed ${s}`).join(' | ')} |`, `|---|${seeds.map(() => '---|').join('')}`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
  process.stdout.write(out.join('\n') + '\n');
  process.exit(0);
}

let best = [...BEST_CONSTANT_ALPHA];
let perType = ORACLE_ALPHA_BY_TYPE.map((a) => [...a]);
if (!values.eval) {
  const r = await searchConstantAlpha({ world, start: DEFAULT_PRODUCTION_ALPHA, sessions: searchSessions, seed: 101 });
  best = round(r.alpha);
  log(`best constant ${JSON.stringify(best)}: return ${r.startValue.toFixed(1)} → ${r.value.toFixed(1)} (${r.evaluations} evaluations)`);
  perType = [];
  for (let k = 0; k < world.nTypes; k++) {
    const rk = await searchConstantAlpha({ world, start: best, sessions: Math.round(searchSessions / 2), seed: 201 + k, userType: k, steps: [2, 1.5, 1.25] });
    perType.push(round(rk.alpha));
    log(`type ${world.config.world.types[k].name} ${JSON.stringify(round(rk.alpha))}: ${rk.startValue.toFixed(1)} → ${rk.value.toFixed(1)}`);
  }
  process.stdout.write(`BEST_CONSTANT_ALPHA = ${JSON.stringify(best)}\nORACLE_ALPHA_BY_TYPE = ${JSON.stringify(perType)}\n`);
}

const candidates = values.eval ? oneStepCandidates() : [[...DEFAULT_PRODUCTION_ALPHA], best, ...perType, ...best.map((_, i) => best.map((a, j) => (i === j ? 3 * a : a)))];
const policies: [string, FusionPolicy][] = [
  ['production (behavior mean)', constantPolicy(DEFAULT_PRODUCTION_ALPHA, 'production')],
  ['behavior (mixed exploration)', behaviorPolicy()],
  ['best constant', constantPolicy(best, 'best')],
  ['oracle (sees user type)', oraclePolicy(perType)],
  ['myopic (true 1-step model)', myopicPolicy(candidates)],
  ['look-ahead (true 1-step model)', lookaheadPolicy(candidates, LOOKAHEAD_CONTINUATION)],
];
const results = new Map<string, RolloutResult>();
for (const [name, p] of policies) {
  results.set(name, await rollout({ world, policy: p, sessions: evalSessions, seed: evalSeed }));
  log(`evaluated ${name}`);
}
const f = (x: number, d = 1) => x.toFixed(d);
const lines = [
  `Held-out sessions: ${evalSessions}, seed ${evalSeed}, world seed ${world.config.world.seed} (common random numbers).`,
  '',
  '| policy | return | discounted return | dwell time (s) | interaction rate | session length |',
  '|---|---|---|---|---|---|',
];
for (const [name, r] of results) {
  const s = summarize(r, name);
  lines.push(`| ${name} | ${f(s.return.mean)} | ${f(s.discounted_return.mean)} | ${f(s.dwell_time.mean)} | ${f(s.interaction_rate.mean, 3)} | ${f(s.session_length.mean)} |`);
}
const rel = (a: string, b: string, m: 'return' | 'discounted_return') => {
  const c = compareResults(results.get(a)!, results.get(b)!);
  const x = c.relative[m];
  return `${f(100 * x.mean, 2)}% [${f(100 * x.ci95[0], 2)}, ${f(100 * x.ci95[1], 2)}]`;
};
lines.push(
  '',
  '| claim (paired over the same sessions, 95% CI) | relative difference |',
  '|---|---|',
  `| best constant vs behavior mean, return | ${rel('production (behavior mean)', 'best constant', 'return')} |`,
  `| oracle vs best constant, return | ${rel('best constant', 'oracle (sees user type)', 'return')} |`,
  `| look-ahead vs myopic, discounted return | ${rel('myopic (true 1-step model)', 'look-ahead (true 1-step model)', 'discounted_return')} |`,
  `| best constant vs myopic, discounted return | ${rel('myopic (true 1-step model)', 'best constant', 'discounted_return')} |`,
  `| oracle vs myopic, discounted return | ${rel('myopic (true 1-step model)', 'oracle (sees user type)', 'discounted_return')} |`,
);
process.stdout.write(lines.join('\n') + '\n');
log('done');
