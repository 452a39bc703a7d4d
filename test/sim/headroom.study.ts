/**
 * How much can a policy that reads only the logged state gain over the tuned constant in this world?
 * (README §4, "Headroom from the logged state"; issue 16 §4.) Every policy is tuned against the
 * simulator on the evaluation's objective (true discounted return) by CMA-ES, on search seeds, and
 * compared on held-out sessions (seed 999, run tag 0) paired by common random numbers:
 *
 *   tuned constant            the default production (test/sim/calibrate.ts)
 *   segments                  k-means (k = 4) on the profiles of logged sessions, one α per segment
 *   linear state (ES)         log(α_i/α_k) linear in the standardised logged state: the paper's ES baseline
 *   oracle                    one α per latent user type — sees what no log carries
 *   look-ahead                a true one-step model of the user — sees what no log carries
 *
 *   npm run study:headroom                       # everything (about an hour on 2 cores)
 *   npm run study:headroom -- --only segments    # or es, or eval (the stored policies)
 *
 * Options: --segment-generations N (120), --es-generations N (300), --sessions N per generation
 * (segments 2000, ES 1000), --eval-sessions N (10000), --eval-seed S (999). The tuned policies are
 * written to src/sim/referenceStatePolicies.json (the `segments` and `es` reference policies).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  behaviorPolicy,
  compareResults,
  defaultWorld,
  maximize,
  meanObjective,
  referencePolicies,
  rollout,
  SEARCH_RUN_TAG,
  STATE_DIM,
  summarize,
  TUNED_PRODUCTION_ALPHA,
  type FusionPolicy,
  type RolloutResult,
} from '../../src/sim/index.ts';
import { PROFILE_DIM } from '../../src/sim/features.ts';
import { REFERENCE_STATE_POLICIES_FILE, type ReferenceStatePolicies } from '../../src/sim/calibrated.ts';
import { kMeans, linearStatePolicy, segmentPolicy, standardizer, type LinearStatePolicySpec, type SegmentPolicySpec } from '../../src/sim/statePolicies.ts';

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    'segment-generations': { type: 'string', default: '120' },
    'es-generations': { type: 'string', default: '300' },
    sessions: { type: 'string' },
    'eval-sessions': { type: 'string', default: '10000' },
    'eval-seed': { type: 'string', default: '999' },
  },
});
const world = defaultWorld();
const K = TUNED_PRODUCTION_ALPHA.length;
const scale = TUNED_PRODUCTION_ALPHA.reduce((a, b) => a + b, 0);
const tunedLogits = TUNED_PRODUCTION_ALPHA.slice(0, K - 1).map((a) => Math.log(a / TUNED_PRODUCTION_ALPHA[K - 1]));
const t0 = performance.now();
const log = (s: string) => process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(0)} s] ${s}\n`);
const round = (x: number) => Number(x.toPrecision(4));
const stored = (): ReferenceStatePolicies => JSON.parse(readFileSync(REFERENCE_STATE_POLICIES_FILE, 'utf8'));
const out: ReferenceStatePolicies = (() => {
  try {
    return stored();
  } catch {
    return { provenance: {}, segments: null, es: null } as unknown as ReferenceStatePolicies;
  }
})();
const save = () => writeFileSync(REFERENCE_STATE_POLICIES_FILE, JSON.stringify(out, null, 1) + '\n');

// What a log gives: the states of behavior-policy sessions (seed 11: neither a search nor an evaluation seed).
async function loggedStates(sessions: number) {
  const states: number[] = [];
  const profiles: number[] = [];
  const types: number[] = [];
  await rollout({
    world,
    policy: behaviorPolicy(),
    sessions,
    seed: 11,
    recorder: {
      onStep(e, s) {
        const row = e.states.subarray(s * STATE_DIM, (s + 1) * STATE_DIM);
        for (const v of row) states.push(v);
        if (e.step[s] === 0) {
          for (let j = 0; j < PROFILE_DIM; j++) profiles.push(row[j]);
          types.push(e.userType[s]); // analysis only: how well the segments match the latent types
        }
      },
    },
  });
  return { states: Float64Array.from(states), profiles: Float64Array.from(profiles), types };
}

const only = values.only;
if (!only || only === 'segments' || only === 'es') {
  const logged = await loggedStates(5000);
  const nP = logged.types.length;
  if (!only || only === 'segments') {
    const profile = standardizer(logged.profiles, nP, PROFILE_DIM);
    const z = logged.profiles.map((v, i) => (v - profile.mean[i % PROFILE_DIM]) / profile.std[i % PROFILE_DIM]);
    const km = kMeans(z, nP, PROFILE_DIM, 4, 0);
    const spec0: SegmentPolicySpec = { profile, centroids: km.centroids, alpha: km.centroids.map(() => [...TUNED_PRODUCTION_ALPHA]) };
    // Purity: the share of sessions whose segment's majority type is their own type (analysis only).
    const counts = km.centroids.map(() => new Array<number>(world.nTypes).fill(0));
    for (let i = 0; i < nP; i++) counts[km.assignment[i]][logged.types[i]]++;
    const purity = counts.reduce((a, c) => a + Math.max(...c), 0) / nP;
    log(`segments: ${km.centroids.length} (sizes ${counts.map((c) => c.reduce((a, b) => a + b, 0)).join(', ')}), purity against the latent types ${(100 * purity).toFixed(1)}%`);
    const toSpec = (x: number[]): SegmentPolicySpec => ({
      ...spec0,
      alpha: spec0.centroids.map((_, c) => {
        const e = [...x.slice(c * (K - 1), (c + 1) * (K - 1)).map(Math.exp), 1];
        const s = e.reduce((a, b) => a + b, 0);
        return e.map((v) => round((v * scale) / s));
      }),
    });
    const sessions = Number(values.sessions ?? 2000);
    const generations = Number(values['segment-generations']);
    const r = await maximize({
      dim: 4 * (K - 1),
      start: [...tunedLogits, ...tunedLogits, ...tunedLogits, ...tunedLogits],
      sigma: 0.3,
      generations,
      seed: 301,
      evaluate: async (xs, g) => Promise.all(xs.map((x) => meanObjective({ world, policy: segmentPolicy(toSpec(x)), sessions, seed: 301, runTag: SEARCH_RUN_TAG + g }))),
      onGeneration: (h) => h.generation % 10 === 9 && log(`segments generation ${h.generation + 1}: mean ${h.mean.toFixed(1)}, σ ${h.sigma.toFixed(3)}`),
    });
    out.segments = { ...toSpec(r.x), profile: { mean: profile.mean.map(round), std: profile.std.map(round) }, centroids: km.centroids.map((c) => c.map(round)) };
    out.provenance.segments = `k-means (k 4, seed 0) on the standardised profiles of 5,000 behavior sessions (seed 11; purity against the latent types ${(100 * purity).toFixed(1)}%); α per segment by CMA-ES (seed 301, ${generations} generations × ${sessions} sessions, σ0 0.3) from the tuned α on true discounted return`;
    save();
    log(`segments α: ${JSON.stringify(out.segments.alpha)}`);
  }
  if (!only || only === 'es') {
    const d = STATE_DIM;
    const state = standardizer(logged.states, logged.states.length / d, d);
    const toSpec = (x: number[]): LinearStatePolicySpec => ({
      state,
      W: Array.from({ length: K - 1 }, (_, t) => x.slice(t * (d + 1), t * (d + 1) + d)),
      b: Array.from({ length: K - 1 }, (_, t) => x[t * (d + 1) + d]),
      scale,
    });
    const start: number[] = [];
    for (let t = 0; t < K - 1; t++) start.push(...new Array<number>(d).fill(0), tunedLogits[t]);
    const sessions = Number(values.sessions ?? 1000);
    const generations = Number(values['es-generations']);
    const r = await maximize({
      dim: (K - 1) * (d + 1),
      start,
      sigma: 0.15,
      generations,
      seed: 401,
      evaluate: async (xs, g) => Promise.all(xs.map((x) => meanObjective({ world, policy: linearStatePolicy(toSpec(x)), sessions, seed: 401, runTag: SEARCH_RUN_TAG + g }))),
      onGeneration: (h) => h.generation % 10 === 9 && log(`ES generation ${h.generation + 1}: mean ${h.mean.toFixed(1)}, σ ${h.sigma.toFixed(3)}`),
    });
    const spec = toSpec(r.x);
    out.es = { state: { mean: state.mean.map(round), std: state.std.map(round) }, W: spec.W.map((w) => w.map(round)), b: spec.b.map(round), scale: round(scale) };
    out.provenance.es = `linear log-ratio policy on the standardised ${d}-feature logged state (statistics of 5,000 behavior sessions, seed 11); CMA-ES (seed 401, ${generations} generations × ${sessions} sessions, σ0 0.15) from the tuned α (W = 0) on true discounted return`;
    save();
    log('ES policy stored');
  }
}

// Evaluation on held-out sessions.
const evalSessions = Number(values['eval-sessions']);
const evalSeed = Number(values['eval-seed']);
const refs = referencePolicies();
const policies: [string, () => FusionPolicy][] = [
  ['tuned constant (production)', refs.production],
  ['segments (k-means on the logged profile)', refs.segments],
  ['linear state policy (ES)', refs.es],
  ['oracle (sees the latent user type)', refs.oracle],
  ['look-ahead (true one-step model)', refs.lookahead],
];
const results = new Map<string, RolloutResult>();
for (const [name, p] of policies) {
  results.set(name, await rollout({ world, policy: p(), sessions: evalSessions, seed: evalSeed }));
  log(`evaluated ${name}`);
}
const base = results.get('tuned constant (production)')!;
const pct = (x: { mean: number; ci95: [number, number] }) => `${x.mean >= 0 ? '+' : ''}${(100 * x.mean).toFixed(2)}% [${(100 * x.ci95[0]).toFixed(2)}, ${(100 * x.ci95[1]).toFixed(2)}]`;
const lines = [
  `Held-out sessions: ${evalSessions}, seed ${evalSeed}, world seed ${world.config.world.seed} (common random numbers).`,
  '',
  '| policy | reads | discounted return | vs tuned constant (paired 95% CI) | dwell time (s) | interaction rate | session length |',
  '|---|---|---|---|---|---|---|',
];
const reads: Record<string, string> = {
  'tuned constant (production)': 'nothing',
  'segments (k-means on the logged profile)': 'logged profile',
  'linear state policy (ES)': 'logged state',
  'oracle (sees the latent user type)': 'latent type',
  'look-ahead (true one-step model)': 'latent state + true model',
};
for (const [name, r] of results) {
  const s = summarize(r, name);
  const rel = r === base ? '—' : pct(compareResults(base, r).relative.discounted_return);
  lines.push(`| ${name} | ${reads[name]} | ${s.discounted_return.mean.toFixed(1)} | ${rel} | ${s.dwell_time.mean.toFixed(1)} | ${s.interaction_rate.mean.toFixed(3)} | ${s.session_length.mean.toFixed(1)} |`);
}
const p = stored().provenance;
lines.push('', `segments: ${p.segments}`, `ES: ${p.es}`);
process.stdout.write(lines.join('\n') + '\n');
