/**
 * The embedded default (README's main job): simulate three days of logs, ingest them, train BCQ and
 * its baselines, evaluate every policy off-policy, gate and publish the BCQ model, and end with the
 * paper's Table 1 for our world — each policy's OPE V̂ with its CI next to the simulator's true value.
 * No Redis: the stages run in this process, through the same library functions the jobs call.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ingest, parseRewardWeights, readTrajectories } from '../data/index.ts';

export interface DemoSizes {
  sessionsPerDay: number;
  trainSteps: number;
  hidden: number[];
  fqeIterations: number;
  bootstrap: number;
  bootstrapIterations: number;
  truthSessions: number;
}

/** `--quick` is a smoke test (≤ 2 min on 2 cores); the full demo aims at ≤ 15 min on 2 cores. */
export const DEMO_SIZES: Record<'quick' | 'full', DemoSizes> = {
  quick: { sessionsPerDay: 300, trainSteps: 300, hidden: [32, 32], fqeIterations: 200, bootstrap: 2, bootstrapIterations: 50, truthSessions: 600 },
  full: { sessionsPerDay: 5000, trainSteps: 6000, hidden: [64, 64], fqeIterations: 2000, bootstrap: 5, bootstrapIterations: 300, truthSessions: 5000 },
};

export const DEMO_END_DATE = '2026-11-20';
const DAYS = 3;
const LOG_SEED = 1;
/** ground truth uses other sessions than the logs (same world), common to every policy */
const TRUTH_SEED = 7;

export interface DemoRow {
  policy: string;
  vHat: number | null;
  ci95: [number, number] | null;
  trueDiscounted: number;
  trueDiscountedCi: [number, number];
  dwellTime: number;
  interactionRate: number;
  liftVsBehavior: number | null;
}

export interface DemoResult {
  out: string;
  rows: DemoRow[];
  published: { version: string; status: string; reason: string } | null;
  seconds: number;
}

export async function runDemo(o: { out: string; quick: boolean; say: (line: string) => void }): Promise<DemoResult> {
  const t0 = performance.now();
  const sizes = DEMO_SIZES[o.quick ? 'quick' : 'full'];
  const say = (line: string) => o.say(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}`);
  mkdirSync(o.out, { recursive: true });
  const sim = await import('../sim/index.ts');

  // 1. Logs: three days of the production policy with mixed multi-exploration (paper §3.3).
  const logs = join(o.out, 'logs');
  say(`simulate: ${DAYS} days × ${sizes.sessionsPerDay} sessions → ${logs}`);
  const simReport = await sim.simulateLogs({ out: logs, endDate: DEMO_END_DATE, days: DAYS, sessionsPerDay: sizes.sessionsPerDay, seed: LOG_SEED });
  void simReport;

  // 2. Trajectories.
  const trajectories = join(o.out, 'trajectories');
  const ing = await ingest({ logs, window: { endDate: DEMO_END_DATE, days: DAYS }, reward: parseRewardWeights(sim.REWARD_SPEC), out: trajectories });
  const r = ing.report;
  say(`ingest: ${r.rows_read} rows → ${r.sessions} sessions (${r.train_sessions} train / ${r.test_sessions} test), ${r.truncated_transitions} truncated by the window's end`);

  // 3. Training: BCQ and the paper's baselines (behavior cloning, TD3 without batch constraint).
  const rl = await import('../rl/index.ts');
  const { batch: train, metadata } = await readTrajectories(trajectories, 'train');
  const stats = { state: metadata.state_stats, action: metadata.action_stats };
  const trained: Record<string, Awaited<ReturnType<typeof rl.train>>> = {};
  for (const algo of ['bc', 'td3', 'bcq'] as const) {
    const hidden = algo === 'bc' ? { vaeHidden: sizes.hidden } : algo === 'td3' ? { actorHidden: sizes.hidden, criticHidden: sizes.hidden } : { actorHidden: sizes.hidden, criticHidden: sizes.hidden, vaeHidden: sizes.hidden };
    const res = await rl.train({
      batch: train,
      stats,
      actionNames: metadata.action_names,
      config: { algo, steps: sizes.trainSteps, checkpointEvery: sizes.trainSteps, logEvery: Math.max(1, Math.floor(sizes.trainSteps / 4)), ...hidden },
      outDir: join(o.out, 'train', algo),
      progress: 'none',
    });
    trained[algo] = res;
    say(`train ${algo}: ${res.report.stepsDone} steps at ${res.report.itPerSec.toFixed(0)} it/s on ${res.backend.name}`);
  }

  // 4. Off-policy evaluation on the test split (conservative FQE, paper Alg. 2).
  const ope = await import('../ope/index.ts');
  const { batch: test } = await readTrajectories(trajectories, 'test');
  const best = [...sim.BEST_CONSTANT_ALPHA];
  const evalPolicies = [
    ope.behaviorPolicy('behavior'),
    ope.constantPolicy(best, 'best-constant'),
    ope.fnPolicy('bc', trained.bc.policy.act),
    ope.fnPolicy('td3', trained.td3.policy.act),
    ope.fnPolicy('bcq', trained.bcq.policy.act),
  ];
  const opeDir = join(o.out, 'ope');
  const report = await ope.evaluatePolicies({
    batch: test,
    metadata,
    dataDir: trajectories,
    policies: evalPolicies,
    config: { fqe: { iterations: sizes.fqeIterations }, bootstrap: sizes.bootstrap, bootstrapIterations: sizes.bootstrapIterations },
    onProgress: (line) => say(`evaluate: ${line}`),
  });
  const files = ope.writeOpeReport(opeDir, report);
  say(`evaluate: → ${files.html}`);

  // 5. Gate and publish the BCQ model (only if the evaluation says it is not worse).
  const exp = await import('../export/index.ts');
  let published: DemoResult['published'] = null;
  try {
    const v = await exp.exportModel({ checkpoint: join(o.out, 'train', 'bcq'), opeReport: files.json, storeDir: join(o.out, 'models'), name: 'fusion', data: trajectories, candidate: 'bcq', baseline: 'behavior' });
    published = { version: v.version, status: v.manifest.gate.decision, reason: v.manifest.gate.reason };
  } catch (err) {
    if (!(err instanceof exp.GateRejectedError)) throw err;
    published = { version: err.version, status: 'rejected', reason: err.message };
  }
  say(`publish: ${published.status} (${published.reason})`);

  // 6. Ground truth for every policy, common random numbers.
  const truthPolicies: [string, Parameters<typeof sim.groundTruth>[0]][] = [
    ['behavior', sim.behaviorPolicy()],
    ['best-constant', sim.constantPolicy(best, 'best')],
    ['bc', sim.batchPolicy('bc', trained.bc.policy.act)],
    ['td3', sim.batchPolicy('td3', trained.td3.policy.act)],
    ['bcq', sim.batchPolicy('bcq', trained.bcq.policy.act)],
  ];
  const rows: DemoRow[] = [];
  let behaviorTrue = NaN;
  for (const [name, policy] of truthPolicies) {
    const t = await sim.groundTruth(policy, { sessions: sizes.truthSessions, seed: TRUTH_SEED });
    if (name === 'behavior') behaviorTrue = t.discounted_return.mean;
    const est = report.policies.find((p) => p.name === name);
    rows.push({
      policy: name,
      vHat: est?.v_hat ?? null,
      ci95: est ? [est.ci95[0], est.ci95[1]] : null,
      trueDiscounted: t.discounted_return.mean,
      trueDiscountedCi: t.discounted_return.ci95,
      dwellTime: t.dwell_time.mean,
      interactionRate: t.interaction_rate.mean,
      liftVsBehavior: name === 'behavior' ? null : t.discounted_return.mean / behaviorTrue - 1,
    });
  }
  for (const t of Object.values(trained)) t.policy.dispose();
  return { out: o.out, rows, published, seconds: (performance.now() - t0) / 1000 };
}

/** The paper's Table 1 for our world, as a terminal table. */
export function formatDemoTable(rows: DemoRow[]): string {
  const f = (x: number, d = 1) => x.toFixed(d);
  const lines = [
    '| policy | OPE V̂ [95% CI] | true discounted return [95% CI] | dwell time s | interaction rate | lift vs behavior (true) |',
    '|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const vhat = r.vHat === null ? '—' : `${f(r.vHat)} [${f(r.ci95![0])}, ${f(r.ci95![1])}]`;
    const lift = r.liftVsBehavior === null ? '—' : `${r.liftVsBehavior >= 0 ? '+' : ''}${f(100 * r.liftVsBehavior)}%`;
    lines.push(`| ${r.policy} | ${vhat} | ${f(r.trueDiscounted)} [${f(r.trueDiscountedCi[0])}, ${f(r.trueDiscountedCi[1])}] | ${f(r.dwellTime)} | ${f(r.interactionRate, 3)} | ${lift} |`);
  }
  return lines.join('\n');
}
