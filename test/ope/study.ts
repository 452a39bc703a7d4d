/**
 * The correlation study of OPE against the simulator's ground truth (issue 5 §2), shared by the small
 * test (correlation.test.ts) and the full script (correlation.study.ts):
 *
 *   simulate logs (mixed behavior policy) → ingest (3-day window) → train BC, TD3, BCQ (checkpoints) →
 *   evaluate every policy off-policy on the test split → roll every policy out in the simulator →
 *   Spearman ρ, regret@1, mean relative error.
 *
 * Everything expensive is cached in the work folder (logs, trajectories, training runs), so a rerun
 * only repeats what changed.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ingest, parseRewardWeights, readTrajectories } from '../../src/data/index.ts';
import { evaluatePolicies } from '../../src/ope/evaluate.ts';
import { meanRelativeError, regretAt1, spearman } from '../../src/ope/metrics.ts';
import { behaviorPolicy as evalBehavior, constantPolicy as evalConstant, fnPolicy, type EvalPolicy } from '../../src/ope/policies.ts';
import type { OpeConfigInput } from '../../src/ope/config.ts';
import type { OpeReport } from '../../src/ope/schemas.ts';
import { loadPolicy, train, type Policy } from '../../src/rl/index.ts';
import type { AlgoName } from '../../src/rl/config.ts';
import { Rng } from '../../src/rl/rng.ts';
import {
  DEFAULT_SCENARIO,
  SCENARIOS,
  REWARD_SPEC,
  batchPolicy,
  behaviorPolicy as simBehavior,
  constantPolicy as simConstant,
  defaultWorld,
  groundTruth,
  simulateLogs,
  type FusionPolicy,
  type ScenarioName,
  type TruthReport,
} from '../../src/sim/index.ts';

/** The algorithms a study can train, in the order they are trained and listed. */
const STUDY_ALGOS: readonly AlgoName[] = ['bc', 'td3', 'td3bc', 'tscac', 'bcq'];

export interface StudyOptions {
  work: string;
  sessionsPerDay: number;
  days: number;
  endDate?: string;
  seed?: number;
  /** the world's production policy (default: the tuned constant, the paper's setting) */
  scenario?: ScenarioName;
  /** share of sessions held out as the test split (ingest default 0.1) */
  testFraction?: number;
  /** gradient steps per algorithm (0 or absent = not trained) and checkpoint spacing */
  train?: Partial<Record<AlgoName, number>> & { checkpointEvery?: number; config?: Record<string, unknown>; seed?: number };
  /** per-algorithm config fields (after train.config) */
  algoConfig?: Partial<Record<AlgoName, Record<string, unknown>>>;
  /** which checkpoints (steps) of an algorithm to evaluate besides the last */
  checkpoints?: Partial<Record<AlgoName, number[]>>;
  /** evaluate only these candidates (by name; default: all) — the behavior policy is always evaluated */
  include?: string[];
  /** extra constant policies: name → α */
  constants?: Record<string, number[]>;
  ope: OpeConfigInput;
  truthSessions: number;
  truthSeed?: number;
  log?: (line: string) => void;
}

export interface StudyRow {
  name: string;
  group: 'behavior' | 'constant' | 'random' | AlgoName;
  vHat: number;
  ci95: [number, number];
  truth: number;
  truthCi95: [number, number];
  ood: number;
  pdwis: number | null;
  wdr: number | null;
}

export interface StudyResult {
  rows: StudyRow[];
  spearman: number;
  regretAt1: number;
  /** regret@1 / truth of the best policy */
  relativeRegretAt1: number;
  meanRelativeError: number;
  /** the same for the IS estimators where present */
  spearmanPdwis: number | null;
  spearmanWdr: number | null;
  /** share of policies whose truth lies in the FQE 95% interval */
  coverage: number;
  /**
   * Spearman ρ among the policies the report would consider shipping (OOD share < shipMaxOod), and
   * the best ρ any conservative estimator can reach on this policy set: every out-of-distribution
   * policy below every in-distribution one, each group in its true order.
   */
  spearmanInDistribution: number | null;
  spearmanConservativeCeiling: number;
  report: OpeReport;
  seconds: { data: number; train: number; ope: number; truth: number };
}

interface Candidate {
  name: string;
  group: StudyRow['group'];
  evalPolicy: EvalPolicy;
  simPolicy: () => FusionPolicy;
  dispose?: () => void;
}

/**
 * The small study of test/ope/correlation.test.ts (seconds, not minutes): 2 days × 500 sessions, half of
 * them held out, seven policies — the logged behavior, production, the best constant, a uniformly random
 * α and three hand-made constants (one worse in distribution, two far outside the data) — small FQE
 * (K = 1500, 64 × 64, m = 256), 1500 truth sessions. Exported so that the seeds the test's thresholds
 * were measured on can be rerun: `node --import tsx test/ope/correlation.seeds.ts 3 7 11`.
 */
export function smallStudyOptions(work: string, seed = 7, fqe: Record<string, unknown> = {}): StudyOptions {
  // The legacy scenario: the thresholds of correlation.test.ts were measured there (issue 19 re-measures
  // the estimator on the default one).
  const P = SCENARIOS['hand-tuned-production'].productionAlpha;
  return {
    work,
    seed,
    scenario: 'hand-tuned-production',
    sessionsPerDay: 500,
    days: 2,
    testFraction: 0.5,
    constants: {
      minus: P.map((x) => x - 0.2),
      clickbait: [0, 0, 0, 0, 0, 0, 0, 2],
      'play-negative': P.map((x, i) => (i === 0 || i === 7 ? -0.5 : x)),
    },
    ope: { fqe: { iterations: 1500, hidden: [64, 64], batchSize: 256, ...fqe }, bootstrap: 2, bootstrapIterations: 50, oodStates: 300, backend: 'auto' },
    truthSessions: 1500,
  };
}

/** The last logged day of a study unless StudyOptions.endDate says otherwise. */
export const STUDY_END_DATE = '2026-11-20';

/** The simulateLogs call behind a study's logs: its window plus one day before it, so that the window's first day starts with sessions in flight. */
export function studyLogOptions(o: StudyOptions) {
  return { world: defaultWorld(), endDate: o.endDate ?? STUDY_END_DATE, days: o.days + 1, sessionsPerDay: o.sessionsPerDay, seed: o.seed ?? 7, production: scenarioProduction(o) };
}

/** The scenario's production policy (the behavior policy explores around it). */
function scenarioProduction(o: StudyOptions): FusionPolicy {
  return simConstant(SCENARIOS[o.scenario ?? DEFAULT_SCENARIO].productionAlpha, 'production');
}

/** Logs and trajectories of the study (cached). */
export async function prepareStudyData(o: StudyOptions): Promise<string> {
  const endDate = o.endDate ?? STUDY_END_DATE;
  const logs = join(o.work, 'logs');
  const traj = join(o.work, 'trajectories');
  if (!existsSync(join(traj, 'metadata.json'))) {
    if (!existsSync(logs)) {
      o.log?.(`simulating ${o.days} days × ${o.sessionsPerDay} sessions`);
      await simulateLogs({ ...studyLogOptions(o), out: logs });
    }
    o.log?.('ingesting');
    await ingest({ logs, window: { endDate, days: o.days }, reward: parseRewardWeights(REWARD_SPEC), out: traj, testFraction: o.testFraction });
  }
  return traj;
}

/** Trains what `o.train` asks for (cached per algorithm) and returns the output dirs. */
export async function trainStudyPolicies(o: StudyOptions, traj: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const steps = o.train ?? {};
  const algos = STUDY_ALGOS.filter((a) => (steps[a] ?? 0) > 0);
  if (algos.length === 0) return out;
  const { batch, metadata } = await readTrajectories(traj, 'train');
  for (const algo of algos) {
    const dir = join(o.work, `train-${algo}`);
    out[algo] = dir;
    const reportFile = join(dir, 'training-report.json');
    if (existsSync(reportFile) && JSON.parse(readFileSync(reportFile, 'utf8')).status === 'completed') continue;
    o.log?.(`training ${algo} for ${steps[algo]} steps`);
    const t = performance.now();
    const r = await train({
      batch,
      stats: { state: metadata.state_stats, action: metadata.action_stats },
      actionNames: metadata.action_names,
      config: { algo, steps: steps[algo], checkpointEvery: steps.checkpointEvery ?? steps[algo], logEvery: 500, seed: steps.seed ?? 1, ...(steps.config ?? {}), ...(o.algoConfig?.[algo] ?? {}) },
      outDir: dir,
      keepCheckpoints: 100,
      progress: 'none',
    });
    r.policy.dispose();
    o.log?.(`trained ${algo}: ${r.report.itPerSec.toFixed(1)} it/s, ${((performance.now() - t) / 1000).toFixed(0)} s`);
  }
  return out;
}

function checkpointDir(runDir: string, step: number): string | null {
  const dir = join(runDir, 'checkpoints', `step-${String(step).padStart(9, '0')}`);
  return existsSync(join(dir, 'manifest.json')) ? dir : null;
}

function lastCheckpointStep(runDir: string): number {
  const steps = readdirSync(join(runDir, 'checkpoints'))
    .map((n) => /^step-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]));
  return Math.max(...steps);
}

/** A uniformly random α in the logged box, drawn afresh per request from its own seeded RNG. */
function randomPolicyFn(lo: number[], hi: number[], seed: number) {
  const rng = new Rng(seed);
  return (_states: Float32Array, n: number): Float32Array => {
    const A = lo.length;
    const out = new Float32Array(n * A);
    for (let i = 0; i < n; i++) for (let j = 0; j < A; j++) out[i * A + j] = lo[j] + (hi[j] - lo[j]) * rng.uniform();
    return out;
  };
}

export async function candidates(o: StudyOptions, traj: string, runs: Record<string, string>): Promise<Candidate[]> {
  const { metadata } = await readTrajectories(traj, 'test');
  const lo = metadata.action_stats.min;
  const hi = metadata.action_stats.max;
  const scenario = o.scenario ?? DEFAULT_SCENARIO;
  const production = SCENARIOS[scenario].productionAlpha;
  const [otherName, other] = scenario === 'tuned-production' ? ['hand-tuned', SCENARIOS['hand-tuned-production'].productionAlpha] : ['tuned-constant', SCENARIOS['tuned-production'].productionAlpha];
  const list: Candidate[] = [
    { name: 'behavior', group: 'behavior', evalPolicy: evalBehavior(), simPolicy: () => simBehavior({ production: scenarioProduction(o) }) },
    { name: 'production', group: 'constant', evalPolicy: evalConstant([...production], 'production'), simPolicy: () => simConstant(production, 'production') },
    // the other scenario's constant: the tuned one in the legacy world, the hand-tuned one in the default world
    { name: otherName, group: 'constant', evalPolicy: evalConstant([...other], otherName), simPolicy: () => simConstant(other, otherName) },
    {
      name: 'random',
      group: 'random',
      evalPolicy: fnPolicy('random', randomPolicyFn(lo, hi, 11)),
      simPolicy: () => batchPolicy('random', randomPolicyFn(lo, hi, 12)),
    },
  ];
  for (const [name, alpha] of Object.entries(o.constants ?? {})) {
    list.push({ name, group: 'constant', evalPolicy: evalConstant(alpha, name), simPolicy: () => simConstant(alpha, name) });
  }
  for (const algo of STUDY_ALGOS) {
    const dir = runs[algo];
    if (!dir) continue;
    const last = lastCheckpointStep(dir);
    const steps = [...new Set([...((algo === 'bc' ? [] : o.checkpoints?.[algo]) ?? []), last])].sort((a, b) => a - b);
    for (const step of steps) {
      const ckpt = checkpointDir(dir, step);
      if (!ckpt) continue;
      const policy: Policy = await loadPolicy(ckpt);
      const name = `${algo}@${step}`;
      list.push({ name, group: algo, evalPolicy: fnPolicy(name, policy.act, ckpt), simPolicy: () => batchPolicy(name, policy.act), dispose: () => policy.dispose() });
    }
  }
  return list;
}

/**
 * The policy set of a work folder the full study (`npm run study:ope -- --work … --seed …`) filled: its
 * options (TD3 checkpoints every other 2500 steps, BCQ every 2500), the trajectories folder and the
 * candidates — what the follow-up studies (heldout, intervals, horizon) re-evaluate.
 */
export async function cachedStudy(work: string, seed: number): Promise<{ o: StudyOptions; traj: string; list: Candidate[] }> {
  const o: StudyOptions = { work, sessionsPerDay: 10000, days: 3, seed, ope: {}, truthSessions: 20000, checkpoints: { td3: [2500, 7500], bcq: [2500, 5000, 7500] } };
  const traj = join(work, 'trajectories');
  const list = await candidates(o, traj, { bc: join(work, 'train-bc'), td3: join(work, 'train-td3'), bcq: join(work, 'train-bcq') });
  return { o, traj, list };
}

/** Ground truth of one candidate, cached in the work folder per (name, sessions, seed). */
export async function cachedTruth(o: StudyOptions, c: Candidate): Promise<TruthReport> {
  const file = join(o.work, 'truth', `${c.name.replace(/[^A-Za-z0-9_.@-]/g, '_')}-${o.truthSessions}-${o.truthSeed ?? 2024}.json`);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as TruthReport;
  const truth = await groundTruth(c.simPolicy(), { world: defaultWorld(), sessions: o.truthSessions, seed: o.truthSeed ?? 2024 });
  mkdirSync(join(o.work, 'truth'), { recursive: true });
  writeFileSync(file, JSON.stringify(truth));
  return truth;
}

export async function runStudy(o: StudyOptions): Promise<StudyResult> {
  mkdirSync(o.work, { recursive: true });
  let t = performance.now();
  const traj = await prepareStudyData(o);
  const tData = (performance.now() - t) / 1000;
  t = performance.now();
  const runs = await trainStudyPolicies(o, traj);
  const tTrain = (performance.now() - t) / 1000;
  const all = await candidates(o, traj, runs);
  const list = o.include ? all.filter((c) => c.group === 'behavior' || o.include!.includes(c.name)) : all;
  for (const c of all) if (!list.includes(c)) c.dispose?.();
  try {
    t = performance.now();
    const { batch, metadata } = await readTrajectories(traj, 'test');
    o.log?.(`OPE of ${list.length} policies on ${batch.n} test transitions`);
    const report = await evaluatePolicies({ batch, metadata, dataDir: traj, policies: list.map((c) => c.evalPolicy), config: o.ope, onProgress: (l) => o.log?.(`  ${l}`) });
    const tOpe = (performance.now() - t) / 1000;
    t = performance.now();
    const rows: StudyRow[] = [];
    for (const [i, c] of list.entries()) {
      const truth = await cachedTruth(o, c);
      const p = report.policies[i];
      rows.push({
        name: c.name,
        group: c.group,
        vHat: p.v_hat,
        ci95: p.ci95,
        truth: truth.discounted_return.mean,
        truthCi95: truth.discounted_return.ci95,
        ood: p.ood.share,
        pdwis: p.importance?.pdwis.mean ?? null,
        wdr: p.importance?.wdr.mean ?? null,
      });
      o.log?.(`  truth ${c.name}: ${truth.discounted_return.mean.toFixed(1)} (V̂ ${p.v_hat.toFixed(1)})`);
    }
    const tTruth = (performance.now() - t) / 1000;
    const v = rows.map((r) => r.vHat);
    const g = rows.map((r) => r.truth);
    const withIs = rows.filter((r) => r.pdwis !== null);
    const isRho = (k: 'pdwis' | 'wdr') => (withIs.length >= 3 ? spearman(withIs.map((r) => r[k]!), withIs.map((r) => r.truth)) : null);
    const regret = regretAt1(v, g);
    return {
      rows,
      spearman: spearman(v, g),
      regretAt1: regret,
      relativeRegretAt1: regret / Math.abs(Math.max(...g)),
      meanRelativeError: meanRelativeError(v, g),
      spearmanPdwis: isRho('pdwis'),
      spearmanWdr: isRho('wdr'),
      coverage: rows.filter((r) => r.truth >= r.ci95[0] && r.truth <= r.ci95[1]).length / rows.length,
      ...conservativeView(rows, report.config.shipMaxOod),
      report,
      seconds: { data: tData, train: tTrain, ope: tOpe, truth: tTruth },
    };
  } finally {
    for (const c of list) c.dispose?.();
  }
}

/** The in-distribution ρ and the conservative ceiling of StudyResult. */
export function conservativeView(rows: Pick<StudyRow, 'vHat' | 'truth' | 'ood'>[], maxOod: number): Pick<StudyResult, 'spearmanInDistribution' | 'spearmanConservativeCeiling'> {
  const inD = rows.filter((r) => r.ood < maxOod);
  const g = rows.map((r) => r.truth);
  const lowest = Math.min(...g);
  const highest = Math.max(...g);
  // an OOD policy's stand-in score: its truth shifted below the lowest in-distribution score
  const ceiling = rows.map((r) => (r.ood < maxOod ? r.truth : r.truth - (highest - lowest) - 1));
  return {
    spearmanInDistribution: inD.length >= 3 ? spearman(inD.map((r) => r.vHat), inD.map((r) => r.truth)) : null,
    spearmanConservativeCeiling: spearman(ceiling, g),
  };
}
