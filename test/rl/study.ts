/**
 * Issue 4 §5: does batch RL work on simulator logs? The full-size study (its output is the table of
 * src/rl/README.md §5) and, with small sizes, the library behind test/rl/simulator.test.ts.
 *
 *   simulate a 3-day log (mixed multi-exploration around the scenario's production α: by default the
 *   tuned constant) → ingest with the simulator's reward spec → train BC, TD3, TD3+BC and BCQ on the train
 *   split → roll every policy out in the simulator on the same fresh sessions (common random numbers) →
 *   true discounted return, return, dwell time, interaction rate, and the lift over the production
 *   constant (the reference: what the users run) with a paired 95% interval.
 *
 * Besides the truth, two columns show extrapolation error (the paper's point about TD3): the critic's own
 * estimate Q1(s₀, π(s₀)) at the session starts of the test split (the truth column is the value of the same
 * quantity), and the share of the policy's action coordinates at the edge of the action interval it was
 * trained with (its normalisation: config actionInterval, default mean ± 4 sd; README §3.5).
 *
 *   node --import tsx test/rl/study.ts [--work /tmp/mtf-rl-study] [--sessions-per-day 10000] [--days 3]
 *     [--end-date 2026-11-20] [--log-seed 1] [--steps 20000] [--seeds 0,1,2] [--algos bc,td3,td3bc,bcq]
 *     [--scenario tuned-production | hand-tuned-production]
 *     [--config '<flat JSON run config>' | --config file.json (default STUDY_CONFIG: 64-wide networks)] [--truth-sessions 10000] [--truth-seed 7]
 *     [--markdown out.md]
 *
 * Logs, trajectories and training runs are cached in --work (keyed by their parameters), so a rerun only
 * repeats what changed. The CLI commands that give the same numbers are printed with the table.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ingest, parseRewardWeights, readTrajectories } from '../../src/data/index.ts';
import { createAlgorithm } from '../../src/rl/algorithms.ts';
import { initBackend } from '../../src/rl/backend.ts';
import { readLatestCheckpoint, restoreVariables } from '../../src/rl/checkpoint.ts';
import { ALGOS, runConfigSchema, splitRunConfig, type AlgoName } from '../../src/rl/config.ts';
import { loadPolicy, train } from '../../src/rl/index.ts';
import { normalizeActions, normalizeStates, type Normalization } from '../../src/rl/normalization.ts';
import { Rng } from '../../src/rl/rng.ts';
import {
  DEFAULT_SCENARIO,
  REWARD_SPEC,
  SCENARIOS,
  TRUTH_METRICS,
  batchPolicy,
  behaviorPolicy,
  compareResults,
  constantPolicy,
  defaultWorld,
  rollout,
  simulateLogs,
  type Estimate,
  type FusionPolicy,
  type RolloutResult,
  type ScenarioName,
} from '../../src/sim/index.ts';

type TruthMetric = (typeof TRUTH_METRICS)[number];

export const ALGO_LABEL: Record<AlgoName, string> = { bc: 'BC', td3: 'TD3', td3bc: 'TD3+BC', bcq: 'BCQ', tscac: 'TSCAC', iql: 'IQL' };

export interface StudyOptions {
  work: string;
  sessionsPerDay: number;
  days: number;
  endDate: string;
  /** seed of the simulated log */
  logSeed: number;
  /** the world's production policy (default: the tuned constant, the paper's setting) */
  scenario?: ScenarioName;
  /** gradient steps of every trained algorithm */
  steps: number;
  /** training seeds (one row per algorithm and seed) */
  seeds: number[];
  algos: AlgoName[];
  /** flat run config for every algorithm; keys that belong to another algorithm are dropped per algorithm */
  config: Record<string, unknown>;
  truthSessions: number;
  truthSeed: number;
  /** simulator rollout slots (default: the simulator's) */
  slots?: number;
  log?: (line: string) => void;
}

export interface StudyRow {
  name: string;
  kind: 'behavior' | 'constant' | AlgoName;
  seed: number | null;
  /** the production constant's row: the reference of every lift */
  reference: boolean;
  truth: Record<TruthMetric, Estimate>;
  /** this policy − production over the same sessions, paired 95% CI */
  lift: Record<TruthMetric, Estimate>;
  /** (this − production) / production */
  liftRelative: Record<TruthMetric, Estimate>;
  /** the critic's Q1(s₀, π(s₀)) at the test split's session starts, reward units (null: no critic) */
  criticQ0: number | null;
  /** share of action coordinates within 1% of the trained action interval's edge (π on test states, its own interval; behavior: the logged actions, truncated to the runs' interval; null without one) */
  atBoxEdge: number | null;
  train: { seconds: number; itPerSec: number; steps: number; dir: string } | null;
}

/** BCQ (seed s) − another policy (the same seed where it has one), paired over the same sessions. */
export interface VersusRow {
  bcq: string;
  other: string;
  discounted_return: Estimate;
  relative: Estimate;
}

export interface StudyResult {
  options: Omit<StudyOptions, 'log'>;
  data: { trainRows: number; trainSessions: number; testSessions: number };
  rows: StudyRow[];
  /** BCQ against every other trained or reference policy (empty without BCQ) */
  versus: VersusRow[];
  commands: string[];
  seconds: { data: number; train: number; truth: number };
}

const RUN_DEFAULTS = { checkpointEvery: 1_000_000, logEvery: 1000 };

/**
 * The study's default config: every algorithm setting at its default (README §3), networks 64 wide instead
 * of 256 so that the whole study runs in about half an hour on a shared 2-core machine (README §5 also
 * reports BCQ at the default widths).
 */
export const STUDY_CONFIG = { actorHidden: [64, 64], criticHidden: [64, 64], vaeHidden: [64, 64], valueHidden: [64, 64] };

/** The run config of one algorithm: the study's flat config restricted to that algorithm's fields. */
export function configFor(algo: AlgoName, seed: number, o: Pick<StudyOptions, 'config' | 'steps'>): Record<string, unknown> {
  const known = new Set(ALGOS.flatMap((a) => Object.keys(runConfigSchema(a).shape)));
  const own = new Set(Object.keys(runConfigSchema(algo).shape));
  const cfg: Record<string, unknown> = { ...RUN_DEFAULTS };
  for (const [k, v] of Object.entries(o.config)) {
    if (!known.has(k)) throw new Error(`study config: unknown field '${k}'`);
    if (own.has(k)) cfg[k] = v;
  }
  return { ...cfg, algo, steps: o.steps, seed };
}

function stampMatches(file: string, stamp: unknown): boolean {
  return existsSync(file) && readFileSync(file, 'utf8') === JSON.stringify(stamp);
}

/** Logs and trajectories (cached in the work folder, keyed by their parameters). */
export async function prepareData(o: StudyOptions): Promise<string> {
  const logs = join(o.work, 'logs');
  const traj = join(o.work, 'trajectories');
  const scenario = o.scenario ?? DEFAULT_SCENARIO;
  const logStamp = { endDate: o.endDate, days: o.days, sessionsPerDay: o.sessionsPerDay, seed: o.logSeed, production: [...SCENARIOS[scenario].productionAlpha] };
  const logStampFile = join(o.work, 'logs.json');
  if (!stampMatches(logStampFile, logStamp)) {
    o.log?.(`simulating ${o.days} days × ${o.sessionsPerDay} sessions (seed ${o.logSeed}, scenario ${scenario})`);
    rmSync(logs, { recursive: true, force: true });
    rmSync(traj, { recursive: true, force: true });
    const production = constantPolicy(SCENARIOS[scenario].productionAlpha, 'production');
    await simulateLogs({ world: defaultWorld(), out: logs, endDate: o.endDate, days: o.days, sessionsPerDay: o.sessionsPerDay, seed: o.logSeed, production });
    writeFileSync(logStampFile, JSON.stringify(logStamp));
  }
  const trajStamp = { ...logStamp, reward: REWARD_SPEC };
  const trajStampFile = join(o.work, 'trajectories.json');
  if (!stampMatches(trajStampFile, trajStamp) || !existsSync(join(traj, 'metadata.json'))) {
    o.log?.('ingesting');
    await ingest({ logs, window: { endDate: o.endDate, days: o.days }, reward: parseRewardWeights(REWARD_SPEC), out: traj });
    writeFileSync(trajStampFile, JSON.stringify(trajStamp));
  }
  return traj;
}

/** Trains (or finds, when a completed run with the same config exists) one algorithm and seed. */
async function trainRun(o: StudyOptions, traj: string, algo: AlgoName, seed: number, data: Awaited<ReturnType<typeof readTrajectories>>) {
  const dir = join(o.work, 'runs', `${algo}-seed${seed}`);
  const config = configFor(algo, seed, o);
  const stampFile = join(dir, 'study-config.json');
  const reportFile = join(dir, 'training-report.json');
  if (stampMatches(stampFile, config) && existsSync(reportFile)) {
    const r = JSON.parse(readFileSync(reportFile, 'utf8'));
    if (r.status === 'completed') return { dir, seconds: r.trainSeconds as number, itPerSec: r.itPerSec as number, steps: r.stepsDone as number };
  }
  rmSync(dir, { recursive: true, force: true });
  o.log?.(`training ${ALGO_LABEL[algo]} (seed ${seed}) for ${o.steps} steps`);
  const { policy, report } = await train({
    batch: data.batch,
    stats: { state: data.metadata.state_stats, action: data.metadata.action_stats },
    actionNames: data.metadata.action_names,
    config,
    outDir: dir,
    keepCheckpoints: 1,
    progress: 'none',
  });
  policy.dispose();
  writeFileSync(stampFile, JSON.stringify(config));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 1) + '\n');
  o.log?.(`  ${report.itPerSec.toFixed(0)} it/s, ${report.trainSeconds.toFixed(0)} s; Q(π) ${report.final.policyQMean?.toFixed(1) ?? '–'}`);
  return { dir, seconds: report.trainSeconds, itPerSec: report.itPerSec, steps: report.stepsDone };
}

/** Q1(s₀, π(s₀)) averaged over the session starts, reward units, and the share of π's coordinates at the edge of its action interval (the checkpoint's normalisation). */
async function criticView(dir: string, starts: Float32Array, states: Float32Array, S: number) {
  const ckpt = readLatestCheckpoint(dir)!;
  const m = ckpt.manifest;
  const { trainer, algo: cfg } = splitRunConfig(m.config);
  await initBackend(trainer.backend, { threads: trainer.threads }); // as loadPolicy does (training may have been cached)
  const algo = createAlgorithm(trainer.algo, m.stateDim, m.actionDim, cfg, new Rng(trainer.seed));
  try {
    restoreVariables(ckpt, algo.variables());
    const norm = m.normalization;
    const n0 = starts.length / S;
    const s0 = normalizeStates(starts, norm);
    const u0 = algo.act(s0, n0, new Rng(trainer.seed));
    const q = algo.q1(s0, u0, n0);
    const report = JSON.parse(readFileSync(join(dir, 'training-report.json'), 'utf8')) as { rewardScale?: number };
    const criticQ0 = q ? q.reduce((a, b) => a + b, 0) / n0 / (report.rewardScale ?? 1) : null;
    const n = states.length / S;
    const u = algo.act(normalizeStates(states, norm), n, new Rng(trainer.seed));
    return { criticQ0, atBoxEdge: edgeShare(u) };
  } finally {
    algo.dispose();
  }
}

/** Share of normalised coordinates with |u| ≥ 0.98 (within 1% of the interval's width from an edge). */
function edgeShare(u: Float32Array): number {
  let c = 0;
  for (let i = 0; i < u.length; i++) if (Math.abs(u[i]) >= 0.98) c++;
  return c / u.length;
}

/**
 * The action interval the runs were trained with (their checkpoints' normalisation, = training-report.json
 * `actionInterval`); null when there is no run or the runs' intervals differ (e.g. runs cached before and
 * after a change of `actionInterval`).
 */
function trainedInterval(dirs: string[]): Normalization | null {
  const boxes = dirs.map((dir) => readLatestCheckpoint(dir)!.manifest.normalization);
  if (!boxes.length) return null;
  const key = (b: Normalization) => JSON.stringify([b.actionMin, b.actionMax]);
  return boxes.every((b) => key(b) === key(boxes[0])) ? boxes[0] : null;
}

export async function runStudy(o: StudyOptions): Promise<StudyResult> {
  const t0 = performance.now();
  mkdirSync(o.work, { recursive: true });
  const traj = await prepareData(o);
  const data = await readTrajectories(traj, 'train');
  const test = await readTrajectories(traj, 'test');
  const S = data.batch.stateDim;
  const tData = performance.now();

  // probe states: the test split's session starts (for Q(s₀, π(s₀))) and up to 20,000 of its rows
  const starts: number[] = [];
  for (let i = 0; i < test.batch.n; i++) if (test.batch.step[i] === 0) starts.push(i);
  const gather = (idx: number[]) => {
    const out = new Float32Array(idx.length * S);
    idx.forEach((r, k) => out.set(test.batch.state.subarray(r * S, (r + 1) * S), k * S));
    return out;
  };
  const probeRows = Array.from({ length: Math.min(20_000, test.batch.n) }, (_, k) => Math.floor((k * test.batch.n) / Math.min(20_000, test.batch.n)));
  const startStates = gather(starts);
  const probeStates = gather(probeRows);

  const runs: { algo: AlgoName; seed: number; run: Awaited<ReturnType<typeof trainRun>> }[] = [];
  for (const algo of o.algos) for (const seed of o.seeds) runs.push({ algo, seed, run: await trainRun(o, traj, algo, seed, data) });
  const tTrain = performance.now();

  const world = defaultWorld();
  const roll = (policy: FusionPolicy) => rollout({ world, policy, sessions: o.truthSessions, seed: o.truthSeed, slots: o.slots });
  o.log?.(`rolling out ${o.truthSessions} sessions per policy (seed ${o.truthSeed})`);
  const scenario = o.scenario ?? DEFAULT_SCENARIO;
  const other: ScenarioName = scenario === 'tuned-production' ? 'hand-tuned-production' : 'tuned-production';
  const base = await roll(constantPolicy(SCENARIOS[scenario].productionAlpha, 'production'));
  const rows: StudyRow[] = [];
  const results = new Map<string, RolloutResult>();
  const addRow = (name: string, kind: StudyRow['kind'], seed: number | null, r: RolloutResult, extra: Pick<StudyRow, 'criticQ0' | 'atBoxEdge' | 'train'>) => {
    results.set(name, r);
    const c = compareResults(base, r, 'production', name);
    rows.push({ name, kind, seed, reference: r === base, truth: pickMetrics(c.b), lift: c.diff, liftRelative: c.relative, ...extra });
  };
  // the logged α as training sees them: truncated to the interval the runs were trained with (README §3.5)
  const interval = trainedInterval(runs.map((r) => r.run.dir));
  const loggedEdge = interval ? edgeShare(normalizeActions(data.batch.action, interval, true)) : null;
  const productionName = scenario === 'tuned-production' ? 'production (tuned constant)' : 'production (hand-tuned constant)';
  addRow(productionName, 'constant', null, base, { criticQ0: null, atBoxEdge: null, train: null });
  addRow('behavior', 'behavior', null, await roll(behaviorPolicy({ production: constantPolicy(SCENARIOS[scenario].productionAlpha, 'production') })), { criticQ0: null, atBoxEdge: loggedEdge, train: null });
  addRow(other === 'tuned-production' ? 'tuned constant' : 'hand-tuned constant (legacy production)', 'constant', null, await roll(constantPolicy(SCENARIOS[other].productionAlpha, other)), { criticQ0: null, atBoxEdge: null, train: null });
  for (const { algo, seed, run } of runs) {
    const view = await criticView(run.dir, startStates, probeStates, S);
    const policy = await loadPolicy(run.dir);
    try {
      const name = o.seeds.length > 1 ? `${ALGO_LABEL[algo]} (seed ${seed})` : ALGO_LABEL[algo];
      addRow(name, algo, seed, await roll(batchPolicy(name, policy.act)), { ...view, train: run });
    } finally {
      policy.dispose();
    }
  }
  const versus: VersusRow[] = [];
  for (const b of rows.filter((x) => x.kind === 'bcq')) {
    for (const x of rows) {
      if (x.kind === 'bcq' || (x.seed !== null && x.seed !== b.seed)) continue;
      const c = compareResults(results.get(x.name)!, results.get(b.name)!, x.name, b.name);
      versus.push({ bcq: b.name, other: x.name, discounted_return: c.diff.discounted_return, relative: c.relative.discounted_return });
    }
  }
  const tTruth = performance.now();
  const { log: _log, ...options } = o;
  return {
    options,
    data: { trainRows: data.batch.n, trainSessions: data.batch.sessionIds.length, testSessions: test.batch.sessionIds.length },
    rows,
    versus,
    commands: commandsFor(o, runs),
    seconds: { data: (tData - t0) / 1000, train: (tTrain - tData) / 1000, truth: (tTruth - tTrain) / 1000 },
  };
}

function pickMetrics(t: Record<TruthMetric, Estimate>): Record<TruthMetric, Estimate> {
  return Object.fromEntries(TRUTH_METRICS.map((m) => [m, t[m]])) as Record<TruthMetric, Estimate>;
}

/** The CLI commands that produce the same logs, trajectories, runs and truth figures. */
function commandsFor(o: StudyOptions, runs: { algo: AlgoName; seed: number; run: { dir: string } }[]): string[] {
  const w = o.work;
  const scenario = o.scenario ?? DEFAULT_SCENARIO;
  const cmds = [
    `npx mtf simulate --out ${w}/logs --end-date ${o.endDate} --days ${o.days} --sessions-per-day ${o.sessionsPerDay} --seed ${o.logSeed} --scenario ${scenario}`,
    `npx mtf ingest --logs ${w}/logs --end-date ${o.endDate} --days ${o.days} --out ${w}/trajectories --reward-weights ${REWARD_SPEC}`,
  ];
  for (const { algo, seed, run } of runs) {
    cmds.push(`npx mtf train --data ${w}/trajectories --algo ${algo} --steps ${o.steps} --seed ${seed} --config ${run.dir}/config.json --out ${run.dir}`);
  }
  const production = `const:${SCENARIOS[scenario].productionAlpha.join(',')}`;
  for (const { run } of runs) cmds.push(`npx mtf truth --policy ${run.dir} --baseline ${production} --sessions ${o.truthSessions} --seed ${o.truthSeed}`);
  cmds.push(`npx mtf truth --policy behavior:${production} --baseline ${production} --sessions ${o.truthSessions} --seed ${o.truthSeed}`);
  return cmds;
}

/** The README table. */
export function markdownTable(r: StudyResult): string {
  const f = (x: number, d = 1) => x.toFixed(d);
  const ci = (e: Estimate, d = 1) => `${f(e.mean, d)} [${f(e.ci95[0], d)}, ${f(e.ci95[1], d)}]`;
  const pct = (e: Estimate) => `${(100 * e.mean).toFixed(2)}% [${(100 * e.ci95[0]).toFixed(2)}, ${(100 * e.ci95[1]).toFixed(2)}]`;
  const lines = [
    '| policy | true discounted return | lift vs production (paired 95% CI) | lift % | return | dwell time (s) | interaction rate | critic Q(s₀, π(s₀)) | α at box edge |',
    '|---|---:|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const x of r.rows) {
    const lift = x.reference ? '— (reference)' : ci(x.lift.discounted_return);
    const rel = x.reference ? '—' : pct(x.liftRelative.discounted_return);
    lines.push(
      `| ${x.name} | ${ci(x.truth.discounted_return)} | ${lift} | ${rel} | ${f(x.truth.return.mean)} | ${f(x.truth.dwell_time.mean)} | ${f(x.truth.interaction_rate.mean, 4)} | ${x.criticQ0 === null ? '—' : f(x.criticQ0)} | ${x.atBoxEdge === null ? '—' : `${(100 * x.atBoxEdge).toFixed(1)}%`} |`,
    );
  }
  if (r.versus.length) {
    lines.push('', '| BCQ − policy (same sessions, paired 95% CI) | discounted return | relative |', '|---|---|---|');
    for (const v of r.versus) lines.push(`| ${v.bcq} − ${v.other} | ${ci(v.discounted_return)} | ${pct(v.relative)} |`);
  }
  return lines.join('\n');
}

function parseCli(argv: string[]): StudyOptions & { markdown: string | null } {
  const opt = (name: string, def: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : def;
  };
  const num = (name: string, def: number) => {
    const v = Number(opt(name, String(def)));
    if (!Number.isFinite(v)) throw new Error(`--${name}: expected a number`);
    return v;
  };
  const cfgArg = opt('config', JSON.stringify(STUDY_CONFIG));
  const config = JSON.parse(cfgArg.trim().startsWith('{') ? cfgArg : readFileSync(cfgArg, 'utf8')) as Record<string, unknown>;
  const algos = opt('algos', 'bc,td3,td3bc,bcq').split(',') as AlgoName[];
  if (!(opt('scenario', DEFAULT_SCENARIO) in SCENARIOS)) throw new Error(`--scenario: expected one of ${Object.keys(SCENARIOS).join(', ')}`);
  for (const a of algos) if (!ALGOS.includes(a)) throw new Error(`--algos: unknown algorithm '${a}'`);
  return {
    work: resolve(opt('work', '/tmp/mtf-rl-study')),
    sessionsPerDay: num('sessions-per-day', 10_000),
    days: num('days', 3),
    endDate: opt('end-date', '2026-11-20'),
    logSeed: num('log-seed', 1),
    scenario: opt('scenario', DEFAULT_SCENARIO) as ScenarioName,
    steps: num('steps', 20_000),
    seeds: opt('seeds', '0,1,2').split(',').map(Number),
    algos,
    config,
    truthSessions: num('truth-sessions', 10_000),
    truthSeed: num('truth-seed', 7),
    markdown: argv.includes('--markdown') ? opt('markdown', '') : null,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { markdown, ...o } = parseCli(process.argv.slice(2));
  const t0 = performance.now();
  const result = await runStudy({ ...o, log: (l) => process.stderr.write(`${((performance.now() - t0) / 1000).toFixed(0).padStart(5)} s  ${l}\n`) });
  const table = markdownTable(result);
  const text = [
    `data: ${result.data.trainSessions} train sessions (${result.data.trainRows} transitions), scenario ${o.scenario}; truth: ${o.truthSessions} fresh sessions, seed ${o.truthSeed}, paired with production (CRN)`,
    '',
    table,
    '',
    'training: ' + result.rows.filter((x) => x.train).map((x) => `${x.name} ${x.train!.steps} steps, ${x.train!.itPerSec.toFixed(0)} it/s, ${x.train!.seconds.toFixed(0)} s`).join('; '),
    `time: data ${result.seconds.data.toFixed(0)} s, training ${result.seconds.train.toFixed(0)} s, truth ${result.seconds.truth.toFixed(0)} s`,
    '',
    'equivalent CLI commands:',
    ...result.commands.map((c) => `  ${c}`),
  ].join('\n');
  process.stdout.write(text + '\n');
  writeFileSync(join(o.work, 'study.json'), JSON.stringify(result, null, 1) + '\n');
  if (markdown) writeFileSync(markdown, text + '\n');
}
