/**
 * `npm run bench:ope`: FQE iterations per second and wall time for the default K (5000) on the default
 * test split — the simulator's default log (3 days × 10,000 sessions, seed 7) ingested with the
 * default 3-day window and 10% test split — with the default estimator config (Appendix A: m = 512,
 * Q [256, 256], five heads per response + the reward).
 *
 *   npm run bench:ope -- [--iterations 5000] [--rounds 1] [--backend auto] [--policy behavior|const]
 *                        [--work /tmp/mtf-ope-bench]
 *
 * Prints one line per round and the median; the data is simulated and ingested once into --work.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ingest, parseRewardWeights, readTrajectories } from '../../src/data/index.ts';
import { FqeConfigSchema } from '../../src/ope/config.ts';
import { opeDataOptions, prepareOpeData, sessionStarts } from '../../src/ope/data.ts';
import { fitFqe } from '../../src/ope/fqe.ts';
import { behaviorPolicy, constantPolicy, policyActions } from '../../src/ope/policies.ts';
import { initBackend, type BackendName } from '../../src/ope/rl.ts';
import { DEFAULT_PRODUCTION_ALPHA, REWARD_SPEC, defaultWorld, simulateLogs } from '../../src/sim/index.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const work = opt('work', '/tmp/mtf-ope-bench');
const K = Number(opt('iterations', '5000'));
const rounds = Number(opt('rounds', '1'));
const which = opt('policy', 'behavior');

const traj = join(work, 'trajectories');
if (!existsSync(join(traj, 'metadata.json'))) {
  const logs = join(work, 'logs');
  if (!existsSync(logs)) {
    console.log('simulating the default log (3 days × 10,000 sessions, one extra day before the window) …');
    await simulateLogs({ world: defaultWorld(), endDate: '2026-11-20', days: 4, sessionsPerDay: 10_000, seed: 7, out: logs });
  }
  console.log('ingesting (3-day window, 10% test split) …');
  await ingest({ logs, window: { endDate: '2026-11-20', days: 3 }, reward: parseRewardWeights(REWARD_SPEC), out: traj });
}
const backend = await initBackend(opt('backend', 'auto') as BackendName);
const { batch, metadata } = await readTrajectories(traj, 'test');
const cfg = FqeConfigSchema.parse({ iterations: K, logEvery: K });
const d = prepareOpeData(batch, opeDataOptions(cfg, metadata));
const policy = which === 'const' ? constantPolicy([...DEFAULT_PRODUCTION_ALPHA], 'production') : behaviorPolicy();
const acts = await policyActions(policy, d, cfg.actionSamples);
const starts = sessionStarts(d);
console.log(`backend ${backend.detail}; test split: ${d.sessions} sessions, ${d.n} transitions, ${starts.length} initial states; heads ${d.heads.join(', ')}`);
console.log(`FQE: K = ${K}, m = ${cfg.batchSize}, Q [${d.stateDim + d.actionDim}, ${cfg.hidden.join(', ')}, ${d.heads.length}], policy ${policy.name}`);
const rates: number[] = [];
for (let r = 0; r < rounds; r++) {
  const t = performance.now();
  const fit = fitFqe(d, acts, { cfg, starts, seed: r });
  const wall = (performance.now() - t) / 1000;
  rates.push(K / fit.seconds);
  console.log(`round ${r + 1}: ${(K / fit.seconds).toFixed(1)} it/s, fit ${fit.seconds.toFixed(1)} s, wall ${wall.toFixed(1)} s, V̂ ${fit.value[0].toFixed(1)}`);
}
const med = [...rates].sort((a, b) => a - b)[Math.floor(rates.length / 2)];
console.log(`median ${med.toFixed(1)} it/s → K = ${K}: ${(K / med).toFixed(0)} s; one policy with the default bootstrap (20 refits × 1000 warm-started steps): ${((K + 20 * 1000) / med / 60).toFixed(1)} min`);
