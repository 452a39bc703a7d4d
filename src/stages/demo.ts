/**
 * The embedded default (README's main job): simulate three days of logs, ingest them, train BCQ and
 * its baselines, evaluate every policy off-policy, gate and publish the BCQ model, and end with the
 * paper's Table 1 for our world — each policy's OPE V̂ with its CI next to the simulator's true value,
 * and its true lift over the tuned constant α the logs' production runs (the reference row: what the
 * product must beat), paired over the same sessions.
 * No Redis: the pipeline's stages (src/stages/stages.ts, the functions `mtf run` and the BullMQ jobs
 * call) run in this process; the baselines of Table 1 are trained beside them.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PipelineConfig } from '../config/pipeline.ts';
import { readTrajectories } from '../data/index.ts';
import { toCsv, writeFileAtomic } from '../io/index.ts';
import { claimRun, runDirs } from './run.ts';
import { recordedStage } from './embedded.ts';
import { evaluateStage, ingestShardStage, mergeStage, planIngest, publishStage, trainStage, type StageContext } from './stages.ts';
import { DEMO_SIZES } from './demoSizes.ts';

export { DEMO_SIZES, type DemoSizes } from './demoSizes.ts';

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
  /** relative true discounted return against the tuned constant (production), paired 95% CI; null on its own row */
  liftVsProduction: { mean: number; ci95: [number, number] } | null;
}

/** The demo's pipeline definition, written beside its run so that `mtf status --config` can read it. */
export const DEMO_PIPELINE_FILE = 'pipeline.json';

export interface DemoResult {
  out: string;
  /** <out>/pipeline.json: the pipeline the demo ran, with absolute paths */
  pipelineFile: string;
  rows: DemoRow[];
  published: { version: string; status: string; reason: string } | null;
  seconds: number;
  /** the run's working directory: trajectories/, train/, ope/, stages/ */
  runDir: string;
}

export async function runDemo(o: { out: string; quick: boolean; say: (line: string) => void }): Promise<DemoResult> {
  const t0 = performance.now();
  const sizes = DEMO_SIZES[o.quick ? 'quick' : 'full'];
  const say = (line: string) => o.say(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}`);
  // Absolute: the pipeline file written below must mean the same folders from any working directory.
  const out = resolve(o.out);
  mkdirSync(out, { recursive: true });
  // The demo's own run, baselines and model store start afresh each time (its logs are simulated anew
  // too): a baseline trained into an old one's folder would leave that run's checkpoints beside its own.
  for (const d of ['runs', 'models', 'baselines']) rmSync(join(out, d), { recursive: true, force: true });
  const sim = await import('../sim/index.ts');
  const rl = await import('../rl/index.ts');

  // 1. Logs: three days of the production policy with mixed multi-exploration (paper §3.3).
  const logs = join(out, 'logs');
  say(`simulate: ${DAYS} days × ${sizes.sessionsPerDay} sessions → ${logs}`);
  await sim.simulateLogs({ out: logs, endDate: DEMO_END_DATE, days: DAYS, sessionsPerDay: sizes.sessionsPerDay, seed: LOG_SEED });

  // The nightly pipeline at demo sizes; its stages are the ones `mtf run` and the BullMQ jobs run.
  const baselines = join(out, 'baselines');
  // The reference row: the constant α the logs' production runs, tuned on true discounted return (the
  // paper's online baseline, what the users run today).
  const production = [...sim.DEFAULT_PRODUCTION_ALPHA];
  const pipeline = PipelineConfig.parse({
    name: 'demo',
    paths: { logs, artifacts: out, store: join(out, 'models') },
    ingest: { window_days: DAYS, reward_weights: { ...sim.REWARD_WEIGHTS } },
    train: { algo: 'bcq', steps: sizes.trainSteps, checkpoint_every: sizes.trainSteps, config: { ...hiddenFor('bcq', sizes.hidden), logEvery: Math.max(1, Math.floor(sizes.trainSteps / 4)) } },
    evaluate: {
      // the paper's Table 1 rows besides the candidate: the tuned constant (production), behavior, BC, TD3
      policies: [`production=const:${production.join(',')}`, 'behavior', `bc=${join(baselines, 'bc')}`, `td3=${join(baselines, 'td3')}`],
      config: { fqe: { iterations: sizes.fqeIterations }, bootstrap: sizes.bootstrap, bootstrapIterations: sizes.bootstrapIterations },
    },
    publish: { model: 'fusion' },
  });
  const pipelineFile = join(out, DEMO_PIPELINE_FILE);
  writeFileSync(pipelineFile, JSON.stringify(pipeline, null, 2) + '\n');
  const claim = claimRun(pipeline, DEMO_END_DATE, 'embedded');
  if (!claim.claimed) throw new Error(`demo: ${claim.record.run_id} exists although ${join(out, 'runs')} was just removed`);
  const spec = claim.spec;
  const dirs = runDirs(spec);
  const stage = <T extends Record<string, unknown>>(key: string, fn: (ctx: StageContext) => Promise<T>) => recordedStage(spec, key, fn, say);

  // 2. Trajectories (stage: ingest, fanned out per partition and merged).
  const keys = await planIngest(spec);
  for (const key of keys) await stage(`ingest-${key}`, (ctx) => ingestShardStage(spec, key, ctx));
  const ing = await stage('ingest', (ctx) => mergeStage(spec, keys, ctx));
  const report = JSON.parse(readFileSync(join(dirs.trajectories, 'ingest-report.json'), 'utf8')) as { truncated_transitions: number };
  say(`ingest: ${ing.rows_read} rows → ${ing.sessions} sessions, ${report.truncated_transitions} truncated by the window's end`);

  // 3. Training: the paper's baselines beside the pipeline (behavior cloning, TD3 without batch
  //    constraint), then BCQ as the pipeline's train stage.
  const { batch: train, metadata } = await readTrajectories(dirs.trajectories, 'train');
  const stats = { state: metadata.state_stats, action: metadata.action_stats };
  for (const algo of ['bc', 'td3'] as const) {
    const res = await rl.train({
      batch: train,
      stats,
      actionNames: metadata.action_names,
      beta: metadata.beta,
      config: { algo, steps: sizes.trainSteps, checkpointEvery: sizes.trainSteps, logEvery: Math.max(1, Math.floor(sizes.trainSteps / 4)), ...hiddenFor(algo, sizes.hidden) },
      outDir: join(baselines, algo),
      progress: 'auto', // a bar on a terminal, a line per logEvery steps otherwise
    });
    res.policy.dispose();
    say(`train ${algo}: ${res.report.stepsDone} steps at ${res.report.itPerSec.toFixed(0)} it/s on ${res.backend.name}`);
  }
  await stage('train', (ctx) => trainStage(spec, ctx));

  // 4. Off-policy evaluation on the test split (stage: evaluate; conservative FQE, paper Alg. 2).
  const ev = await stage('evaluate', (ctx) => evaluateStage(spec, ctx));
  say(`evaluate: → ${ev.html}`);

  // 5. Gate and publish BCQ (stage: publish; only if the evaluation says it is not worse).
  const pub = await stage('publish', (ctx) => publishStage(spec, ctx));
  const published: DemoResult['published'] = { version: pub.version, status: pub.decision, reason: pub.reason };
  say(`publish: ${published.status} (${published.reason})`);

  // 6. Ground truth for every policy, common random numbers.
  const policies = {
    bc: await rl.loadPolicy(join(baselines, 'bc')),
    td3: await rl.loadPolicy(join(baselines, 'td3')),
    // the published model's function: BCQ with the latent codes the export bakes (src/rl/latent.ts)
    bcq: await rl.loadPolicy(dirs.train, { latentSeed: rl.DEFAULT_LATENT_SEED }),
  };
  const truthPolicies: [string, import('../sim/index.ts').FusionPolicy][] = [
    ['production', sim.constantPolicy(production, 'production')],
    ['behavior', sim.behaviorPolicy()],
    ['bc', sim.batchPolicy('bc', policies.bc.act)],
    ['td3', sim.batchPolicy('td3', policies.td3.act)],
    ['bcq', sim.batchPolicy('bcq', policies.bcq.act)],
  ];
  const rows: DemoRow[] = [];
  let reference: import('../sim/index.ts').RolloutResult | null = null;
  for (const [name, policy] of truthPolicies) {
    const r = await sim.rollout({ world: sim.defaultWorld(), policy, sessions: sizes.truthSessions, seed: TRUTH_SEED });
    reference ??= r;
    const t = sim.summarize(r, name);
    const est = ev.values[name];
    rows.push({
      policy: name,
      vHat: est?.v_hat ?? null,
      ci95: est ? [est.ci95[0], est.ci95[1]] : null,
      trueDiscounted: t.discounted_return.mean,
      trueDiscountedCi: t.discounted_return.ci95,
      dwellTime: t.dwell_time.mean,
      interactionRate: t.interaction_rate.mean,
      liftVsProduction: r === reference ? null : sim.compareResults(reference, r).relative.discounted_return,
    });
  }
  for (const p of Object.values(policies)) p.dispose();
  return { out, pipelineFile, rows, published, seconds: (performance.now() - t0) / 1000, runDir: dirs.work };
}

function hiddenFor(algo: 'bc' | 'td3' | 'bcq', hidden: number[]) {
  return algo === 'bc' ? { vaeHidden: hidden } : algo === 'td3' ? { actorHidden: hidden, criticHidden: hidden } : { actorHidden: hidden, criticHidden: hidden, vaeHidden: hidden };
}

/** The paper's Table 1 for our world, as a terminal table. */
export function formatDemoTable(rows: DemoRow[]): string {
  const f = (x: number, d = 1) => x.toFixed(d);
  const lines = [
    '| policy | OPE V̂ [95% CI] | true discounted return [95% CI] | dwell time s | interaction rate | true lift vs production (tuned constant), paired 95% CI |',
    '|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const vhat = r.vHat === null ? '—' : `${f(r.vHat)} [${f(r.ci95![0])}, ${f(r.ci95![1])}]`;
    const l = r.liftVsProduction;
    const lift = l === null ? '— (reference)' : `${l.mean >= 0 ? '+' : ''}${f(100 * l.mean, 2)}% [${f(100 * l.ci95[0], 2)}, ${f(100 * l.ci95[1], 2)}]`;
    lines.push(`| ${r.policy} | ${vhat} | ${f(r.trueDiscounted)} [${f(r.trueDiscountedCi[0])}, ${f(r.trueDiscountedCi[1])}] | ${f(r.dwellTime)} | ${f(r.interactionRate, 3)} | ${lift} |`);
  }
  return lines.join('\n');
}

/** `format` of table1.json; bump the version when a field changes meaning or goes away. */
export const DEMO_TABLE1_FORMAT = 'batchrl-mtf/demo-table1@1';

/**
 * One policy of Table 1 for tools: the terminal table's columns, unrounded and flat. `null` where the
 * terminal shows —: no OPE estimate, or the lift on the reference row (production) itself. The lift is
 * relative (0.0201 is the terminal's +2.01%).
 */
export interface DemoTable1Row {
  policy: string;
  v_hat: number | null;
  v_hat_ci95_low: number | null;
  v_hat_ci95_high: number | null;
  true_discounted_return: number;
  true_discounted_return_ci95_low: number;
  true_discounted_return_ci95_high: number;
  dwell_time_s: number;
  interaction_rate: number;
  true_lift_vs_production: number | null;
  true_lift_vs_production_ci95_low: number | null;
  true_lift_vs_production_ci95_high: number | null;
}

/** The columns of table1.csv, in the order of the keys of each of table1.json's rows. */
export const DEMO_TABLE1_COLUMNS = [
  'policy',
  'v_hat',
  'v_hat_ci95_low',
  'v_hat_ci95_high',
  'true_discounted_return',
  'true_discounted_return_ci95_low',
  'true_discounted_return_ci95_high',
  'dwell_time_s',
  'interaction_rate',
  'true_lift_vs_production',
  'true_lift_vs_production_ci95_low',
  'true_lift_vs_production_ci95_high',
] as const satisfies readonly (keyof DemoTable1Row)[];

export function demoTable1Rows(rows: DemoRow[]): DemoTable1Row[] {
  return rows.map((r) => ({
    policy: r.policy,
    v_hat: r.vHat,
    v_hat_ci95_low: r.ci95?.[0] ?? null,
    v_hat_ci95_high: r.ci95?.[1] ?? null,
    true_discounted_return: r.trueDiscounted,
    true_discounted_return_ci95_low: r.trueDiscountedCi[0],
    true_discounted_return_ci95_high: r.trueDiscountedCi[1],
    dwell_time_s: r.dwellTime,
    interaction_rate: r.interactionRate,
    true_lift_vs_production: r.liftVsProduction?.mean ?? null,
    true_lift_vs_production_ci95_low: r.liftVsProduction?.ci95[0] ?? null,
    true_lift_vs_production_ci95_high: r.liftVsProduction?.ci95[1] ?? null,
  }));
}

export interface DemoTable1Json {
  format: typeof DEMO_TABLE1_FORMAT;
  created_at: string;
  /** fresh simulator sessions behind each true value (common to every policy) */
  truth_sessions: number;
  rows: DemoTable1Row[];
}

export function demoTable1Json(rows: DemoRow[], o: { truthSessions: number; createdAt?: Date }): DemoTable1Json {
  return { format: DEMO_TABLE1_FORMAT, created_at: (o.createdAt ?? new Date()).toISOString(), truth_sessions: o.truthSessions, rows: demoTable1Rows(rows) };
}

/** table1.csv: a header of DEMO_TABLE1_COLUMNS, then one record per policy (empty where JSON has null). */
export function demoTable1Csv(rows: DemoRow[]): string {
  return toCsv(
    DEMO_TABLE1_COLUMNS,
    demoTable1Rows(rows).map((r) => DEMO_TABLE1_COLUMNS.map((c) => r[c])),
  );
}

/** Writes Table 1 into `out` as table1.md (the terminal table), table1.json and table1.csv, each atomically. */
export function writeDemoTable1(out: string, rows: DemoRow[], o: { truthSessions: number; createdAt?: Date }): { md: string; json: string; csv: string } {
  const paths = { md: join(out, 'table1.md'), json: join(out, 'table1.json'), csv: join(out, 'table1.csv') };
  writeFileAtomic(paths.md, formatDemoTable(rows) + '\n');
  writeFileAtomic(paths.json, JSON.stringify(demoTable1Json(rows, o), null, 2) + '\n');
  writeFileAtomic(paths.csv, demoTable1Csv(rows));
  return paths;
}
