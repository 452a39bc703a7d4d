/**
 * The nightly loop closed over successive nights (issue 18 §3; BatchRL-MTF §3.3–3.4: online exploration
 * feeds the next night's batch RL). Every night:
 *   1. the day's traffic is served by the ranking stack — FusionScorer on the model store, following
 *      CURRENT, with its manifest's exploration (src/serving/rankingStack.ts); before the first publish,
 *      the constant α the users run today, with the same exploration contract — and logged;
 *   2. the nightly pipeline runs on the last three days (the real stages: ingest, train, evaluate,
 *      publish with its gate);
 *   3. the simulator's truth is measured for what served the day and for the candidate — for this
 *      record only: the gate never sees it.
 * State and records live in <dir>/loop.json (rewritten atomically after every step), so a loop that
 * was stopped continues with the night it was in; <dir>/loop.html draws value over nights.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PipelineConfig } from '../config/pipeline.ts';
import { InputError } from '../errors/index.ts';
import { writeFileAtomic } from '../io/index.ts';
import { ALGO_SCHEMAS, runConfigSchema, type AlgoName } from '../rl/config.ts';
import { publishedExploration, type ExplorationPreset } from '../serving/exploration.ts';
import type { FusionPolicy, RolloutResult } from '../sim/index.ts';
import { meanCi } from '../sim/truth.ts';
import { DEMO_SIZES, type DemoSizes } from './demo.ts';
import { runEmbedded } from './embedded.ts';
import { loopHtml } from './loopHtml.ts';
import { LOOP_FORMAT, LoopState, type LoopConfig, type NightRecord, type TruthSummary } from './loopRecord.ts';
import { runStressNight, STRESS_KINDS, type StressKind } from './loopStress.ts';
import { loopSvg } from './loopSvg.ts';
import { readRunRecord, readStage, runDirs, runRoot, specOf } from './run.ts';

export { LOOP_FORMAT, type LoopConfig, type NightRecord } from './loopRecord.ts';
export { STRESS_KINDS, type StressKind } from './loopStress.ts';

export type LoopSizes = DemoSizes;

/** tiny: the test's 2 nights; demo: the full demo's sizes (one night ≤ 5 min on 2 cores is the goal). */
export const LOOP_SIZES: Record<'tiny' | 'demo', LoopSizes> = {
  tiny: { sessionsPerDay: 200, trainSteps: 200, hidden: [16, 16], fqeIterations: 100, bootstrap: 2, bootstrapIterations: 30, truthSessions: 300 },
  demo: DEMO_SIZES.full,
};

export const LOOP_STARTS = ['tuned', 'hand-tuned'] as const;
export type LoopStart = (typeof LOOP_STARTS)[number];

export interface LoopOptions {
  dir: string;
  start: LoopStart;
  nights: number;
  size: keyof typeof LOOP_SIZES;
  /** inject a bad candidate every night, cycling through STRESS_KINDS */
  stress?: boolean;
  /** sessions of the logs (default 1) */
  seed?: number;
  /** the gate's allowed V̂ shortfall (pipeline publish.tolerance; default 0) */
  tolerance?: number;
  /** the gate's value check (pipeline publish.gate; default paired, as the pipeline's) */
  gate?: 'interval' | 'paired';
  /**
   * the exploration preset (issue 21 §3) of the published manifests and of the start constant's warm-up
   * and nights before the first publish: gaussian = the paper's arms (DEFAULT_EXPLORATION, the default),
   * uniform = bounded uniform (UNIFORM_EXPLORATION)
   */
  exploration?: ExplorationPreset;
  /** the nightly training algorithm, any of ALGOS (default bcq, the paper's) */
  algo?: AlgoName;
  /** fields merged into the pipeline's train.config: the flat trainer + algorithm fields of `mtf train --algo <algo> --help-config` */
  trainConfig?: Record<string, unknown>;
  say?: (line: string) => void;
}

const MODEL = 'fusion';
const DAY_MS = 86_400_000;
/** the truth sessions: another seed than the logs', common to every policy (paired comparisons) */
export const LOOP_TRUTH_SEED = 7;
const FIRST_NIGHT = '2026-11-20';

/** The loop's directories. */
export function loopPaths(dir: string) {
  const root = resolve(dir);
  return { root, logs: join(root, 'logs'), artifacts: root, store: join(root, 'models'), state: join(root, 'loop.json'), html: join(root, 'loop.html'), svg: join(root, 'loop.svg') };
}

function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

async function startAlpha(start: LoopStart): Promise<number[]> {
  const { SCENARIOS } = await import('../sim/config.ts');
  return [...SCENARIOS[start === 'tuned' ? 'tuned-production' : 'hand-tuned-production'].productionAlpha];
}

/** The version the start constant logs in policy_id (`<arm>:<start>-constant`) before the first publish. */
export function startVersion(c: Pick<LoopConfig, 'start'>): string {
  return `${c.start}-constant`;
}

/**
 * The loop's own train.config for `algo`: its size's hidden widths on the networks the algorithm has (its
 * config is strict), logEvery, and TSCAC's stage one as a third of the size's steps (its default, 10,000,
 * exceeds the demo's 6,000, and stage two is where its policy is learned; issue 19's trust study: 2,000 of 6,000).
 */
function sizeTrainConfig(algo: AlgoName, s: LoopSizes): Record<string, unknown> {
  const shape = ALGO_SCHEMAS[algo].shape as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of ['actorHidden', 'criticHidden', 'vaeHidden', 'valueHidden']) if (key in shape) out[key] = s.hidden;
  if ('stageOneSteps' in shape) out.stageOneSteps = Math.max(1, Math.floor(s.trainSteps / 3));
  out.logEvery = Math.max(1, Math.floor(s.trainSteps / 4));
  return out;
}

/** Keys of the train config that other loop options set. */
const TRAIN_CONFIG_OWNED: Record<string, string> = { algo: '--algo', steps: '--size', checkpointEvery: '--size' };

/**
 * Checks --train-config against the trainer's schema for `algo` (src/rl/config.ts runConfigSchema: strict,
 * so a misspelt field is an error), merged over the loop's own fields as the pipeline merges it; an
 * InputError naming the field otherwise. Returns the object as given.
 */
export function checkLoopTrainConfig(algo: AlgoName, raw: unknown, sizes: LoopSizes = LOOP_SIZES.tiny): Record<string, unknown> {
  if (raw === undefined) return {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InputError(`--train-config: expected a JSON object of train config fields (mtf train --algo ${algo} --help-config), got ${JSON.stringify(raw)}`, { field: '--train-config' });
  }
  const given = raw as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (key in TRAIN_CONFIG_OWNED) throw new InputError(`--train-config: field '${key}' is set by ${TRAIN_CONFIG_OWNED[key]}, not here`, { field: `--train-config.${key}` });
  }
  const r = runConfigSchema(algo).safeParse({ ...sizeTrainConfig(algo, sizes), ...given, algo });
  if (!r.success) {
    const issue = r.error.issues[0];
    const path = [...issue.path, ...(issue.code === 'unrecognized_keys' ? issue.keys.slice(0, 1) : [])].join('.');
    throw new InputError(`--train-config: field '${path}': ${issue.message} (the fields of --algo ${algo}: mtf train --algo ${algo} --help-config)`, { field: `--train-config.${path}` });
  }
  return given;
}

/** Canonical JSON (sorted keys), to compare a resumed loop's --train-config with the one it started with. */
function canonical(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(canonical).join(',')}]`;
  if (x && typeof x === 'object') {
    const o = x as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(x);
}

/** The options a loop was started with, as its command line spells them. */
function startedWith(c: LoopConfig): string {
  const tc = c.trainConfig ?? {};
  return (
    `--start ${c.start} --size ${c.size} --gate ${c.gate ?? 'interval'} --exploration ${c.exploration ?? 'gaussian'} --algo ${c.algo ?? 'bcq'}` +
    (Object.keys(tc).length ? ` --train-config '${JSON.stringify(tc)}'` : '') +
    (c.stress ? ' --stress' : '')
  );
}

/** The pipeline of night `date`: before the first publish the gate compares with the constant the stack runs. */
export function loopPipeline(c: LoopConfig, live: boolean): PipelineConfig {
  const p = loopPaths(c.dir);
  const s = c.sizes;
  const algo = c.algo ?? 'bcq';
  return PipelineConfig.parse({
    name: 'loop',
    paths: { logs: p.logs, artifacts: p.artifacts, store: p.store },
    ingest: { window_days: 3, reward_weights: { play_time_s: 1, like: 10, share: 30, comment: 20, follow: 40 } },
    train: {
      algo,
      steps: s.trainSteps,
      checkpoint_every: s.trainSteps,
      config: { ...sizeTrainConfig(algo, s), ...(c.trainConfig ?? {}) },
      // box-aware training (--train-config '{"behaviorBox":…}', issue 21 §2) finds μ(s) of store versions
      // itself; the start constant, never a store version, is named here (unused without behaviorBox)
      behavior_policies: { [startVersion(c)]: `const:${c.startAlpha.join(',')}` },
    },
    evaluate: {
      policies: live ? [] : [`production=const:${c.startAlpha.join(',')}`],
      config: { fqe: { iterations: s.fqeIterations }, bootstrap: s.bootstrap, bootstrapIterations: s.bootstrapIterations },
    },
    publish: { model: MODEL, baseline: 'production', tolerance: c.tolerance, gate: c.gate ?? 'interval', exploration: publishedExploration(c.exploration ?? 'gaussian') },
  });
}

function readState(path: string): LoopState | null {
  if (!existsSync(path)) return null;
  const r = LoopState.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!r.success) throw new InputError(`${path}: not a loop state (${r.error.issues[0].path.join('.')}: ${r.error.issues[0].message}); use another --dir`, { file: path });
  return r.data;
}

function saveState(c: LoopConfig, state: LoopState): void {
  const p = loopPaths(c.dir);
  writeFileAtomic(p.state, JSON.stringify(state, null, 2) + '\n');
  writeFileAtomic(p.html, loopHtml(state));
  writeFileAtomic(p.svg, loopSvg(state));
}

/** Runs (or continues) the loop; returns its state with every night done so far. */
export async function runLoop(o: LoopOptions): Promise<LoopState> {
  const say = o.say ?? (() => {});
  const p = loopPaths(o.dir);
  const sizes = LOOP_SIZES[o.size];
  const algo = o.algo ?? 'bcq';
  const trainConfig = checkLoopTrainConfig(algo, o.trainConfig, sizes); // before anything is written
  if (existsSync(p.root) && !statSync(p.root).isDirectory()) throw new InputError(`--dir: ${p.root} is a file, not a folder`, { file: p.root, field: '--dir' });
  mkdirSync(p.root, { recursive: true });
  let state = readState(p.state);
  if (state) {
    // a resumed loop refuses changed options (absent in a loop.json from before an option: its default then)
    const c = state.config;
    const changed =
      c.start !== o.start ||
      c.size !== o.size ||
      c.stress !== !!o.stress ||
      (c.gate ?? 'interval') !== (o.gate ?? 'paired') ||
      (c.exploration ?? 'gaussian') !== (o.exploration ?? 'gaussian') ||
      (c.algo ?? 'bcq') !== algo ||
      canonical(c.trainConfig ?? {}) !== canonical(trainConfig);
    if (changed) throw new InputError(`${p.state}: this loop was started with ${startedWith(c)}; use another --dir for other settings`, { file: p.state });
  }
  if (!state) {
    const config: LoopConfig = {
      dir: p.root,
      start: o.start,
      size: o.size,
      sizes,
      stress: !!o.stress,
      seed: o.seed ?? 1,
      tolerance: o.tolerance ?? 0,
      gate: o.gate ?? 'paired',
      exploration: o.exploration ?? 'gaussian',
      algo,
      trainConfig,
      truthSeed: LOOP_TRUTH_SEED,
      firstNight: FIRST_NIGHT,
      startAlpha: await startAlpha(o.start),
    };
    state = { format: LOOP_FORMAT, config, references: null, warmup: false, nights: [] };
  }
  const c = state.config;
  const sim = await import('../sim/index.ts');
  const truthCache = new Map<string, RolloutResult>();
  const truthOf = async (id: string, make: () => Promise<FusionPolicy>): Promise<RolloutResult> => {
    const hit = truthCache.get(id);
    if (hit) return hit;
    const policy = await make();
    try {
      const r = await sim.rollout({ world: sim.defaultWorld(), policy, sessions: c.sizes.truthSessions, seed: c.truthSeed });
      truthCache.set(id, r);
      return r;
    } finally {
      await policy.dispose?.();
    }
  };
  const startTruth = () => truthOf('start', async () => sim.constantPolicy(c.startAlpha, `start:${c.start}`));

  // References (once): the start constant, the tuned constant, the logged-state headroom and look-ahead.
  if (!state.references) {
    say('references: truth of the start constant, the tuned constant, segments (logged-state headroom) and look-ahead');
    const refs = sim.referencePolicies();
    const start = await startTruth();
    const summary = (r: RolloutResult, name: string): TruthSummary => truthSummary(sim, r, start, name);
    state.references = {
      start: summary(start, `start (${c.start})`),
      tuned: summary(await truthOf('tuned', async () => refs.production()), 'tuned constant'),
      segments: summary(await truthOf('segments', async () => refs.segments()), 'segments (logged-state headroom)'),
      lookahead: summary(await truthOf('lookahead', async () => refs.lookahead()), 'look-ahead (true one-step model)'),
    };
    saveState(c, state);
  }

  // Warm-up: the two days before the first night, served by the start constant with exploration.
  if (!state.warmup) {
    for (const d of [-2, -1]) await simulateDay(c, addDays(c.firstNight, d), null, say);
    state.warmup = true;
    saveState(c, state);
  }

  for (let night = state.nights.length + 1; night <= o.nights; night++) {
    const date = addDays(c.firstNight, night - 1);
    const t0 = performance.now();
    const { readCurrent } = await import('../export/index.ts');
    // What served the day is fixed before the pipeline runs: a stop after a publish must not re-read CURRENT.
    let pending = state.pending?.night === night ? state.pending : null;
    const served = pending ? pending.served : readCurrent(p.store, MODEL);
    say(`night ${night} (${date}): serving ${served ?? `the ${c.start} constant`}`);
    // 1. the day's traffic (redone from scratch if a stop cut it: simulateDay removes its files first)
    if (!pending) {
      pending = { night, served, online: await simulateDay(c, date, served, say) };
      state.pending = pending;
      saveState(c, state);
    }
    const online = pending.online;
    const tSim = performance.now();
    // 2. the nightly pipeline (resumes a run that was stopped)
    const pipeline = loopPipeline(c, served !== null);
    const stress: StressKind | null = c.stress ? STRESS_KINDS[(night - 1) % STRESS_KINDS.length] : null;
    if (stress) await runStressNight(pipeline, date, stress, say);
    else await runEmbedded(pipeline, date, { say: (l) => say(`  ${l}`) });
    const tPipe = performance.now();
    // 3. truth, for the record only
    const rec = await nightRecord(c, state, night, date, served, online, stress, truthOf, startTruth);
    rec.seconds = { simulate: (tSim - t0) / 1000, pipeline: (tPipe - tSim) / 1000, truth: (performance.now() - tPipe) / 1000, total: (performance.now() - t0) / 1000 };
    state.nights.push(rec);
    state.pending = null;
    saveState(c, state);
    say(`night ${night}: ${rec.gate.decision} ${rec.candidate.version ?? ''} (candidate ${fmtLift(rec.candidate.lift_vs_served)} vs served, served ${fmtLift(rec.served.lift_vs_start)} vs start) in ${rec.seconds.total.toFixed(0)} s`);
  }
  return state;
}

function fmtLift(l: { mean: number } | null): string {
  return l === null ? '–' : `${l.mean >= 0 ? '+' : ''}${(100 * l.mean).toFixed(2)}%`;
}

type Sim = typeof import('../sim/index.ts');

export function truthSummary(sim: Sim, r: RolloutResult, start: RolloutResult, name: string): TruthSummary {
  const t = sim.summarize(r, name);
  const lift = r === start ? null : sim.compareResults(start, r).relative.discounted_return;
  return {
    name,
    discounted_return: { mean: t.discounted_return.mean, ci95: [...t.discounted_return.ci95] as [number, number] },
    dwell_time: { mean: t.dwell_time.mean, ci95: [...t.dwell_time.ci95] as [number, number] },
    interaction_rate: { mean: t.interaction_rate.mean, ci95: [...t.interaction_rate.ci95] as [number, number] },
    lift_vs_start: lift ? { mean: lift.mean, ci95: [...lift.ci95] as [number, number] } : { mean: 0, ci95: [0, 0] },
  };
}

/**
 * Simulates one day of traffic served by the stack (`version` null: the start constant) into the logs,
 * and returns the online readout of its no-exploration control group: what an A/B dashboard shows.
 */
async function simulateDay(c: LoopConfig, date: string, version: string | null, say: (line: string) => void): Promise<NightRecord['online']> {
  const sim = await import('../sim/index.ts');
  const { FusionScorer } = await import('../serving/scorer.ts');
  const { rankingStackPolicy, constantStackPolicy } = await import('../serving/rankingStack.ts');
  const p = loopPaths(c.dir);
  // files of an earlier, cut try of this day (their names are fixed: part-00000 of the day, part-00001 after midnight)
  for (const [d, part] of [[date, 0], [addDays(date, 1), 1]] as const) rmSync(join(p.logs, `dt=${d}`, `part-${String(part).padStart(5, '0')}.parquet`), { force: true });
  const scorer = version === null ? null : await FusionScorer.open(p.store, MODEL, { pollMs: 0, watch: false });
  const stack = scorer ? rankingStackPolicy(scorer) : constantStackPolicy(c.startAlpha, publishedExploration(c.exploration ?? 'gaussian'), startVersion(c));
  // the control group's discounted returns, from the rewards the logs carry (Eq. 2 of the logged feedback)
  const gamma = 0.95;
  const ret = new Map<number, number>();
  try {
    const r = await sim.simulateLogs({
      out: p.logs,
      endDate: date,
      days: 1,
      sessionsPerDay: c.sizes.sessionsPerDay,
      seed: c.seed,
      stack,
      observe: {
        onStep(e, s) {
          if (!stack.armIds[stack.arm[s]].startsWith('control:')) return;
          const i = e.session[s];
          ret.set(i, (ret.get(i) ?? 0) + Math.pow(gamma, e.step[s]) * e.lastReward[s]);
        },
      },
    });
    say(`  simulate ${date}: ${r.sessions} sessions, ${r.rows} requests served by ${scorer ? `${MODEL}@${scorer.version}` : `the ${c.start} constant`}`);
  } finally {
    await scorer?.close();
  }
  const x = [...ret.values()];
  if (x.length < 2) return null;
  const m = meanCi(x);
  return { control_sessions: x.length, discounted_return: { mean: m.mean, ci95: [m.ci95[0], m.ci95[1]] } };
}

async function nightRecord(
  c: LoopConfig,
  state: LoopState,
  night: number,
  date: string,
  served: string | null,
  online: NightRecord['online'],
  stress: StressKind | null,
  truthOf: (id: string, make: () => Promise<FusionPolicy>) => Promise<RolloutResult>,
  startTruth: () => Promise<RolloutResult>,
): Promise<NightRecord> {
  const sim = await import('../sim/index.ts');
  const exp = await import('../export/index.ts');
  const p = loopPaths(c.dir);
  const pipeline = loopPipeline(c, served !== null);
  const record = readRunRecord(pipeline, date);
  if (!record) throw new Error(`${runRoot(pipeline, date)}: no run record after the night's pipeline`);
  const spec = specOf(record);
  const ev = readStage(spec, 'evaluate')?.result as { values?: Record<string, { v_hat: number; ci95: [number, number] }>; live?: string | null } | undefined;
  const pub = readStage(spec, 'publish')?.result as { version?: string; decision?: string; reason?: string } | undefined;
  const versionDir = pub?.version ? join(exp.modelDir(p.store, MODEL), pub.version) : null;
  const manifest = versionDir && existsSync(join(versionDir, exp.MANIFEST_FILE)) ? exp.ManifestSchema.parse(JSON.parse(readFileSync(join(versionDir, exp.MANIFEST_FILE), 'utf8'))) : null;

  const start = await startTruth();
  const storePolicy = (version: string) => async () => {
    const v = exp.readVersion(p.store, MODEL, version);
    return sim.scorerPolicy(v.files['scorer.onnx'], { id: `${MODEL}@${version}`, file: join(v.dir, 'scorer.onnx') });
  };
  const servedTruth = served === null ? start : await truthOf(`v:${served}`, storePolicy(served));
  // The candidate's truth: the exported function when there is one (published or rejected), else the trained policy.
  let candTruth: RolloutResult | null = null;
  if (manifest) candTruth = await truthOf(`v:${manifest.version}`, storePolicy(manifest.version));
  else if (existsSync(join(runDirs(spec).train, 'checkpoints'))) {
    const rl = await import('../rl/index.ts');
    candTruth = await truthOf(`train:${date}`, async () => {
      const pol = await rl.loadPolicy(runDirs(spec).train, { latentSeed: rl.DEFAULT_LATENT_SEED });
      return { ...sim.batchPolicy(`candidate ${date}`, pol.act), dispose: () => pol.dispose() };
    });
  }
  const lift = candTruth ? sim.compareResults(servedTruth, candTruth).relative.discounted_return : null;
  const decision = (manifest?.gate.decision ?? pub?.decision ?? 'refused') as NightRecord['gate']['decision'];
  const published = decision === 'published';
  const liftCi = lift ? ([lift.ci95[0], lift.ci95[1]] as [number, number]) : null;
  const candName = manifest?.ope.candidate.name ?? spec.pipeline.train.algo; // the evaluate stage names the candidate by its algorithm
  const cand = manifest?.ope.candidate ?? (ev?.values?.[candName] ? { name: candName, ...ev.values[candName] } : null);
  const base = manifest?.ope.baseline ?? null;
  return {
    night,
    date,
    served: { id: served ?? `${c.start} constant`, version: served, ...truthSummary(sim, servedTruth, start, served ?? 'start') },
    online,
    candidate: {
      kind: stress ?? spec.pipeline.train.algo,
      version: pub?.version ?? null,
      truth: candTruth ? truthSummary(sim, candTruth, start, pub?.version ?? 'candidate') : null,
      lift_vs_served: lift ? { mean: lift.mean, ci95: liftCi! } : null,
      v_hat: cand ? { v_hat: cand.v_hat, ci95: cand.ci95 ? [cand.ci95[0], cand.ci95[1]] : null } : null,
    },
    baseline: base ? { name: base.name, role: base.role, v_hat: base.v_hat, ci95: base.ci95 ? [base.ci95[0], base.ci95[1]] : null } : null,
    gate: {
      decision,
      reason: manifest?.gate.reason ?? pub?.reason ?? 'no version was written',
      lower_bound: manifest?.gate.value.lower_bound ?? null,
      threshold: manifest?.gate.value.threshold ?? null,
    },
    current_after: exp.readCurrent(p.store, MODEL),
    verdict: {
      harmful: published && liftCi !== null && liftCi[1] < 0,
      below_served: published && lift !== null && lift.mean < 0,
      // refused (the export's checks, e.g. a β the logs were not ranked with): the function that would
      // ship is not the one whose truth is measured here, so it counts as neither
      wrongly_rejected: decision === 'rejected' && lift !== null && lift.mean > 0.01,
    },
    seconds: { simulate: 0, pipeline: 0, truth: 0, total: 0 },
  };
}
