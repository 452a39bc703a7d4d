/**
 * The training loop shared by every algorithm: sample a minibatch, step, check, record, checkpoint.
 *
 * - Truncated rows (the data window cut the session; s′ unknown) stay in the data for the VAE and the
 *   actor but get weight 0 in the critic loss: their TD target has nothing to bootstrap from, and
 *   treating them as terminal would teach the critic that cut sessions end.
 * - Critic targets span `nStep` logged steps (README §3): the rewards of the next m ≤ n rows of the
 *   session, then γ^m·Q′ at the state after them (no bootstrap when the session ends inside; an n-step
 *   window that reaches a truncated row bootstraps from that row's state, which is known).
 * - Rewards are multiplied by `rewardScale` for training; the reported Q statistics are divided by it
 *   again, so curves and reports read in reward units.
 * - With `responses` (per-response critics, README §7) each named feedback column v_i gets its own n-step
 *   columns κ·w_i·Σ γ_i^k v_{i,t+k} and γ_i^m·(1 − done) over the same windows; 'auto' κ is computed on
 *   Σ_i w_i v_i, and the per-response statistics are reported in response units.
 * - All randomness comes from one Rng(seed): initialisation, minibatch indices, noise. Same seed + same
 *   backend → the same weights, bit for bit; `resume` restores the RNG with the weights, so an
 *   interrupted and resumed run equals an uninterrupted one.
 * - A non-finite step scalar stops the run at once with NonFiniteError naming it; checkpoints are only
 *   written after every tensor of the state was checked finite.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import type { TransitionBatch } from '../data/trajectoryTypes.ts';
import { InputError } from '../errors/index.ts';
import type { Algorithm, Minibatch } from './algorithm.ts';
import { createAlgorithm } from './algorithms.ts';
import { initBackend, type BackendInfo } from './backend.ts';
import { readLatestCheckpoint, restoreVariables, writeCheckpoint } from './checkpoint.ts';
import { ALGOS, runConfigSchema, splitRunConfig, type AlgoConfig, type AlgoName, type Response, type TrainerConfig } from './config.ts';
import { dimStats, normalizationFromStats, normalizeActions, normalizeStates, outsideBox, type DimStats, type Normalization } from './normalization.ts';
import { Policy } from './policy.ts';
import { createProgress, type ProgressMode } from './progress.ts';
import { appendRecord, emptyCurves, IntervalMeans, REPORT_FORMAT, writeReport, type Curves, type TrainingReport } from './report.ts';
import { Rng, type RngState } from './rng.ts';

/** A quantity of training became NaN or ±Inf. The message names it and the step. */
export class NonFiniteError extends Error {
  constructor(
    readonly quantity: string,
    readonly step: number,
    readonly value: number,
  ) {
    super(`training diverged: ${quantity} is ${value} at step ${step}; no checkpoint was written from this state (lower the learning rates or check the rewards)`);
    this.name = 'NonFiniteError';
  }
}

/** at most this long between two turns of the event loop while training with a signal */
const YIELD_MS = 250;

export interface TrainOptions {
  batch: TransitionBatch;
  /** train-split statistics from the trajectory metadata; computed from `batch` when absent */
  stats?: { state: DimStats; action: DimStats };
  actionNames?: string[];
  /**
   * β of Eq. (1) of the ranking stack that wrote the data (metadata.json `beta`; null = unknown). Training
   * does not compute Eq. (1) (it learns α from logged α and rewards); it is recorded in the report so
   * that `mtf export` writes the scorer with the β the policy was learned under, even without --data.
   */
  beta?: number[] | null;
  /** the flat run config (trainer + algorithm fields); validated here */
  config: Record<string, unknown>;
  /** where checkpoints and the report go; none written without it */
  outDir?: string;
  /** continue from the latest checkpoint in outDir */
  resume?: boolean;
  progress?: ProgressMode;
  /** abort → a checkpoint at the current step, status 'stopped' */
  signal?: AbortSignal;
  /** newest checkpoints kept (default 3) */
  keepCheckpoints?: number;
  /** called after every step with its scalars (job progress, tests) */
  onStep?: (step: number, stats: Record<string, number>) => void;
}

export interface TrainResult {
  policy: Policy;
  report: TrainingReport;
  backend: BackendInfo;
}

export async function train(opts: TrainOptions): Promise<TrainResult> {
  const { batch } = opts;
  validateBatch(batch);
  const parsed = runConfigSchema(algoOf(opts.config)).safeParse(opts.config);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new InputError(`config: ${first.path.join('.') || '(root)'}: ${first.message}`, { field: first.path.join('.') });
  }
  const runConfig = parsed.data as Record<string, unknown>;
  const { trainer, algo: algoCfg } = splitRunConfig(runConfig);
  const responses = (algoCfg as { responses?: Response[] | null }).responses ?? null;
  if (responses) for (const r of responses) feedbackColumn(batch.feedback ?? {}, r.name); // names checked before any work
  const backend = await initBackend(trainer.backend, { threads: trainer.threads });
  const progress = createProgress(opts.progress ?? 'auto');
  progress.log(`backend: ${backend.detail}${backend.skipped.length ? ` (skipped ${backend.skipped.join('; ')})` : ''}`);

  const fingerprint = fingerprintBatch(batch, responses?.map((r) => r.name));
  const ckpt = opts.resume && opts.outDir ? readLatestCheckpoint(opts.outDir) : null;
  if (opts.resume && !opts.outDir) throw new InputError('resume needs an output directory with checkpoints');
  if (ckpt) checkResumable(ckpt.manifest, trainer.algo, runConfig, fingerprint, batch);
  const norm: Normalization = ckpt
    ? ckpt.manifest.normalization
    : normalizationFromStats(
        opts.stats?.state ?? dimStats(batch.state, batch.n, batch.stateDim),
        opts.stats?.action ?? dimStats(batch.action, batch.n, batch.actionDim),
        trainer.actionInterval,
      );
  const outside = outsideBox(batch.action, batch.n, norm);
  if (outside.rows > 0) progress.log(`action interval: ${outside.rows} of ${batch.n} rows have a logged α outside it (truncated to it)`);

  const targets = targetOptions(algoCfg, batch.reward, batch.feedback);
  const data = prepareData(batch, norm, targets);
  const rng = new Rng(trainer.seed);
  const algo = createAlgorithm(trainer.algo, batch.stateDim, batch.actionDim, algoCfg, rng);
  try {
    algo.prepare?.({ r: data.r, responses: data.responses, logpB: data.logpB ?? null, steps: trainer.steps });
  } catch (err) {
    algo.dispose();
    throw err;
  }
  algo.setActionSpread?.(dimStats(data.a, data.n, data.actionDim).std); // the VAE's standardized error (README §3.4)
  let step = 0;
  let curves: Curves = emptyCurves();
  const interval = new IntervalMeans();
  if (ckpt) {
    restoreVariables(ckpt, algo.variables());
    algo.setCounters(ckpt.manifest.counters);
    rng.setState(ckpt.manifest.rng);
    step = ckpt.manifest.step;
    const p = ckpt.manifest.progress as SavedProgress;
    curves = p.curves;
    interval.sums = p.intervalSums;
    interval.counts = p.intervalCounts;
    progress.log(`resumed from ${ckpt.dir} (step ${step})`);
  }
  const probeIdx = new Rng(trainer.seed ^ 0x5bd1e995).fillIndices(new Int32Array(Math.min(trainer.probeStates, batch.n)), batch.n);

  const report: TrainingReport = {
    format: REPORT_FORMAT,
    status: 'running',
    algo: trainer.algo,
    backend: backend.detail,
    config: runConfig,
    dataset: {
      rows: batch.n,
      terminalRows: count(batch.done),
      truncatedRows: count(batch.truncated),
      stateDim: batch.stateDim,
      actionDim: batch.actionDim,
      fingerprint,
    },
    actionNames: opts.actionNames,
    ...(opts.beta !== undefined ? { beta: opts.beta } : {}),
    rewardScale: targets.rewardScale,
    actionInterval: { min: norm.actionMin, max: norm.actionMax, rowsOutside: outside.rows, shareOutside: outside.share },
    stepsDone: step,
    stepsRequested: trainer.steps,
    resumedFrom: ckpt ? step : null,
    trainSeconds: 0,
    itPerSec: 0,
    lastCheckpoint: ckpt?.dir ?? null,
    final: {},
    curves,
  };
  if (opts.outDir) mkdirSync(opts.outDir, { recursive: true });

  const save = () => {
    if (!opts.outDir) return;
    assertFiniteState(algo, step);
    const saved: SavedProgress = { curves, intervalSums: interval.sums, intervalCounts: interval.counts, fingerprint };
    report.lastCheckpoint = writeCheckpoint(
      opts.outDir,
      {
        step,
        algo: trainer.algo,
        stateDim: batch.stateDim,
        actionDim: batch.actionDim,
        config: runConfig,
        normalization: norm,
        rng: rng.getState() as RngState,
        counters: algo.counters(),
        backend: backend.name,
        progress: saved,
      },
      algo.variables(),
      opts.keepCheckpoints ?? 3,
    );
    writeReport(opts.outDir, report);
  };

  const startStep = step;
  const t0 = performance.now();
  progress.start(trainer.steps, step);
  try {
    let yieldedAt = performance.now();
    while (step < trainer.steps) {
      // Let the event loop run a few times a second: an abort arriving as a message (a sandboxed
      // BullMQ job cancelled by SIGTERM) or a parent process's disconnect is seen only then.
      if (opts.signal && performance.now() - yieldedAt > YIELD_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        yieldedAt = performance.now();
      }
      if (opts.signal?.aborted) {
        report.status = 'stopped';
        break;
      }
      const mb = sampleMinibatch(data, rng, algoBatchSize(algoCfg), algo.nextStateRepeats);
      let stats: Record<string, number>;
      try {
        stats = algo.step(mb, rng);
      } finally {
        disposeMinibatch(mb);
      }
      step += 1;
      for (const [k, v] of Object.entries(stats)) if (!Number.isFinite(v)) throw new NonFiniteError(k, step, v);
      unscaleStats(stats, targets.rewardScale);
      interval.add(stats);
      progress.tick(step);
      opts.onStep?.(step, stats);
      if (step % trainer.logEvery === 0 || step === trainer.steps) {
        const means = interval.means();
        interval.reset();
        const probe = probePolicy(algo, data, probeIdx, norm, rng, targets.rewardScale, targets.responses ?? null);
        appendRecord(curves, step, { ...means, ...probe.perResponse }, probe);
        progress.record(step, summarize(means, probe.qMean));
      }
      report.stepsDone = step;
      if (step % trainer.checkpointEvery === 0 && step < trainer.steps) {
        report.trainSeconds = (performance.now() - t0) / 1000;
        save();
      }
    }
    if (report.status === 'running') report.status = 'completed';
    report.trainSeconds = (performance.now() - t0) / 1000;
    report.itPerSec = (step - startStep) / Math.max(report.trainSeconds, 1e-9);
    report.final = lastRecord(curves);
    // Resumed with nothing to do (the checkpoint has the steps asked for already): leave the run as it is.
    if (!(ckpt && step === startStep)) save();
  } catch (err) {
    progress.stop();
    if (err instanceof NonFiniteError) {
      report.status = 'diverged';
      report.error = err.message;
      report.trainSeconds = (performance.now() - t0) / 1000;
      if (opts.outDir) writeReport(opts.outDir, report);
    }
    algo.dispose();
    throw err;
  }
  progress.stop();
  const policy = new Policy(algo, norm, batch.stateDim, batch.actionDim, trainer.seed);
  return { policy, report, backend };
}

interface SavedProgress {
  curves: Curves;
  intervalSums: Record<string, number>;
  intervalCounts: Record<string, number>;
  fingerprint: string;
}

/** The normalised dataset, flat, ready for minibatch gathering. */
export interface PreparedData {
  n: number;
  stateDim: number;
  actionDim: number;
  s: Float32Array;
  a: Float32Array;
  r: Float32Array;
  s2: Float32Array;
  notDone: Float32Array;
  mask: Float32Array;
  /** n-step targets: the weight γ^m·(1 − done) of the bootstrapped value per row; null = one-step (γ·notDone) */
  discount: Float32Array | null;
  /** per-response critics: R, and [n × R] rewards κ·w_i·Σ_{k<m} γ_i^k v_{i,t+k} and bootstrap weights γ_i^m·(1 − done); null without */
  responses: { R: number; r: Float32Array; discount: Float32Array } | null;
  /** log π_β(a|s) per row in normalised action units (action_logp + the normalisation's log-Jacobian); null unless every row has a finite action_logp */
  logpB?: Float32Array | null;
}

/** How the critic targets are built from the logged rows (the algorithm config's fields). */
export interface TargetOptions {
  gamma: number;
  /** rows per target (1 = the paper's one-step target) */
  nStep: number;
  /** rewards × rewardScale */
  rewardScale: number;
  /** per-response critics (config `responses`): each feedback column's weight and γ; null/absent = one critic on r */
  responses?: Response[] | null;
}

const ONE_STEP: TargetOptions = { gamma: 0.95, nStep: 1, rewardScale: 1 };

/**
 * The target fields of an algorithm config (BC has none: it never builds a target). rewardScale 'auto'
 * resolves to 1 / mean |r| over `reward` (the train rows), or 1 where that is 0 or not finite. With
 * `responses`, the reward the scale is computed on is Σ_i w_i·v_i over `feedback` (the responses'
 * weights, which may differ from the ingest spec's), so that κ·Σ_i Q_i reads as the single critic's Q.
 */
export function targetOptions(cfg: AlgoConfig, reward?: ArrayLike<number>, feedback?: Record<string, ArrayLike<number>>): TargetOptions {
  const c = cfg as { gamma?: number; nStep?: number; rewardScale?: number | 'auto'; responses?: Response[] | null };
  const responses = c.responses ?? null;
  let rewardScale = c.rewardScale ?? 1;
  if (rewardScale === 'auto') {
    if (responses) {
      if (!feedback) throw new RangeError("rewardScale 'auto' with responses needs the feedback columns it is computed from");
      rewardScale = autoRewardScale(weightedReward(responses, feedback));
    } else {
      if (!reward) throw new RangeError("rewardScale 'auto' needs the rewards it is computed from");
      rewardScale = autoRewardScale(reward);
    }
  }
  const out: TargetOptions = { gamma: c.gamma ?? ONE_STEP.gamma, nStep: c.nStep ?? 1, rewardScale };
  if (responses) out.responses = responses;
  return out;
}

/** Σ_i w_i·v_i per row over the responses' feedback columns. */
export function weightedReward(responses: Response[], feedback: Record<string, ArrayLike<number>>): Float64Array {
  const cols = responses.map((r) => feedbackColumn(feedback, r.name));
  const out = new Float64Array(cols[0].length);
  responses.forEach((r, i) => {
    for (let t = 0; t < out.length; t++) out[t] += r.weight * cols[i][t];
  });
  return out;
}

function feedbackColumn(feedback: Record<string, ArrayLike<number>>, name: string): ArrayLike<number> {
  const col = Object.hasOwn(feedback, name) ? feedback[name] : undefined;
  if (!col) {
    const have = Object.keys(feedback);
    throw new InputError(
      `config: responses: '${name}' is not a feedback column of the training data (${have.length ? `it has ${have.join(', ')}` : 'it has none'}; the columns are those of the ingest reward spec)`,
      { field: 'responses' },
    );
  }
  return col;
}

/** 1 / mean |r| (rewards in units of the mean logged reward per step); 1 for all-zero or non-finite rewards. */
export function autoRewardScale(reward: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < reward.length; i++) s += Math.abs(reward[i]);
  const m = s / Math.max(reward.length, 1);
  return m > 0 && Number.isFinite(m) ? 1 / m : 1;
}

/**
 * The normalised dataset. With nStep = n > 1 each row t carries an n-step target instead of the
 * one-step one: r_t ← Σ_{k<m} γ^k r_{t+k}, s′_t ← the state after those m rows, discount γ^m·(1 − done),
 * where m ≤ n stops early at the session's end (done: no bootstrap), at a truncated row t + m (whose
 * own state is known and is bootstrapped from) or where the session's rows stop. A truncated row keeps
 * mask 0 (its own s′ is unknown). Rows of a session must be consecutive and in step order (as ingest
 * writes them); a gap just ends the window there.
 */
export function prepareData(b: TransitionBatch, norm: Normalization, targets: TargetOptions = ONE_STEP): PreparedData {
  const notDone = new Float32Array(b.n);
  const mask = new Float32Array(b.n);
  for (let i = 0; i < b.n; i++) {
    notDone[i] = b.done[i] ? 0 : 1;
    mask[i] = b.truncated[i] ? 0 : 1;
  }
  const base = {
    n: b.n,
    stateDim: b.stateDim,
    actionDim: b.actionDim,
    s: normalizeStates(b.state, norm),
    a: normalizeActions(b.action, norm, true), // truncated to the action interval (README §3.5)
    notDone,
    mask,
  };
  const { gamma, nStep, rewardScale } = targets;
  if (!(Number.isInteger(nStep) && nStep >= 1)) throw new RangeError(`nStep must be a positive integer, got ${nStep}`);
  const win = nStep > 1 || targets.responses ? nStepWindows(b, nStep) : null;
  const responses = targets.responses ? responseColumns(b, win!, targets.responses, rewardScale) : null;
  if (nStep === 1) {
    const r = Float32Array.from(b.reward);
    if (rewardScale !== 1) for (let i = 0; i < r.length; i++) r[i] *= rewardScale;
    return { ...base, r, s2: normalizeStates(b.nextState, norm), discount: null, responses, logpB: behaviorLogp(b, norm) };
  }
  const S = b.stateDim;
  const { len, boot, nextRow, nextIsState } = win!;
  const r = new Float32Array(b.n);
  const discount = new Float32Array(b.n);
  const next = new Float32Array(b.n * S);
  for (let t = 0; t < b.n; t++) {
    let g = 0;
    let w = 1; // γ^k
    for (let k = 0; k < len[t]; k++) {
      g += w * b.reward[t + k];
      w *= gamma;
    }
    discount[t] = boot[t] ? w : 0;
    const j = nextRow[t];
    next.set((nextIsState[t] ? b.state : b.nextState).subarray(j * S, (j + 1) * S), t * S);
    r[t] = g * rewardScale;
  }
  return { ...base, r, s2: normalizeStates(next, norm), discount, responses, logpB: behaviorLogp(b, norm) };
}

/**
 * The logged behavior log-density in normalised action units: action_logp + Σ_j log((max_j − min_j)/2)
 * (u = 2(α − min)/(max − min) − 1); null unless every row has a finite action_logp. Rows whose α was
 * truncated to the action interval keep the density of the untruncated α.
 */
function behaviorLogp(b: TransitionBatch, norm: Normalization): Float32Array | null {
  if (!b.actionLogp || b.actionLogp.length !== b.n || b.n === 0) return null;
  let jac = 0;
  for (let j = 0; j < norm.actionMin.length; j++) if (norm.actionMax[j] > norm.actionMin[j]) jac += Math.log((norm.actionMax[j] - norm.actionMin[j]) / 2);
  const out = new Float32Array(b.n);
  for (let i = 0; i < b.n; i++) {
    if (!Number.isFinite(b.actionLogp[i])) return null;
    out[i] = b.actionLogp[i] + jac;
  }
  return out;
}

/**
 * Row t's n-step window (README §3): its target sums rows t … t + len − 1; then it bootstraps (boot = 1,
 * weight γ^len) or not (the session ended inside, or row t is itself truncated). s′ is the state of row
 * nextRow (nextIsState = 1: a truncated row's own, known state, where the window reached a cut) or that
 * row's logged next state. m ≤ n stops early at the session's end, at a truncated row t + m or where the
 * session's rows stop (a gap in the steps ends the window). nStep = 1 gives the one-step target's rows.
 */
export function nStepWindows(b: TransitionBatch, nStep: number) {
  const len = new Int32Array(b.n);
  const boot = new Uint8Array(b.n);
  const nextRow = new Int32Array(b.n);
  const nextIsState = new Uint8Array(b.n);
  const continues = (j: number) => j + 1 < b.n && b.sessionIndex[j + 1] === b.sessionIndex[j] && b.step[j + 1] === b.step[j] + 1;
  for (let t = 0; t < b.n; t++) {
    let j = t;
    for (;;) {
      if (b.truncated[j] && j > t) {
        // the window reaches a cut: bootstrap from the cut row's own (known) state after j − t rows
        [len[t], boot[t], nextRow[t], nextIsState[t]] = [j - t, 1, j, 1];
        break;
      }
      if (b.done[j] || b.truncated[j]) {
        // session end (no bootstrap), or row t itself truncated (mask 0: its target is never used)
        [len[t], boot[t], nextRow[t]] = [j - t + 1, 0, j];
        break;
      }
      if (j - t + 1 === nStep || !continues(j)) {
        [len[t], boot[t], nextRow[t]] = [j - t + 1, 1, j];
        break;
      }
      j++;
    }
  }
  return { len, boot, nextRow, nextIsState };
}

/** The per-response target columns over the same windows: r_i = κ·w_i·Σ_{k<len} γ_i^k v_{i,t+k}, discount_i = boot·γ_i^len. */
function responseColumns(b: TransitionBatch, win: ReturnType<typeof nStepWindows>, responses: Response[], rewardScale: number) {
  const R = responses.length;
  const r = new Float32Array(b.n * R);
  const discount = new Float32Array(b.n * R);
  responses.forEach(({ name, weight, gamma }, i) => {
    const v = feedbackColumn(b.feedback, name);
    const scale = rewardScale * weight;
    for (let t = 0; t < b.n; t++) {
      let g = 0;
      let w = 1; // γ_i^k (γ_i = 0: the immediate response only)
      for (let k = 0; k < win.len[t]; k++) {
        g += w * v[t + k];
        w *= gamma;
      }
      r[t * R + i] = g * scale;
      discount[t * R + i] = win.boot[t] ? w : 0;
    }
  });
  return { R, r, discount };
}

/**
 * Q statistics back into reward units (the losses stay in the scaled units they are minimised in); the
 * per-response ones (`qMean.<name>`, `targetMean.<name>`, already divided by w_i) into response units.
 */
const Q_STAT = /^(qMean|qStd|targetMean)(\.|$)/;
function unscaleStats(stats: Record<string, number>, scale: number): void {
  if (scale === 1) return;
  for (const k of Object.keys(stats)) if (Q_STAT.test(k)) stats[k] /= scale;
}

/** B rows drawn uniformly with replacement from the run's RNG, as tensors. */
export function sampleMinibatch(d: PreparedData, rng: Rng, B: number, repeats: number): Minibatch {
  const idx = rng.fillIndices(new Int32Array(B), d.n);
  const S = d.stateDim;
  const s2 = gatherRows(d.s2, S, idx, 1);
  return {
    s: tf.tensor2d(gatherRows(d.s, S, idx, 1), [B, S]),
    a: tf.tensor2d(gatherRows(d.a, d.actionDim, idx, 1), [B, d.actionDim]),
    r: tf.tensor2d(gatherRows(d.r, 1, idx, 1), [B, 1]),
    s2: tf.tensor2d(s2, [B, S]),
    notDone: tf.tensor2d(gatherRows(d.notDone, 1, idx, 1), [B, 1]),
    mask: tf.tensor2d(gatherRows(d.mask, 1, idx, 1), [B, 1]),
    discount: d.discount ? tf.tensor2d(gatherRows(d.discount, 1, idx, 1), [B, 1]) : null,
    s2Rep: repeats > 0 ? tf.tensor2d(gatherRows(d.s2, S, idx, repeats), [B * repeats, S]) : null,
    rR: d.responses ? tf.tensor2d(gatherRows(d.responses.r, d.responses.R, idx, 1), [B, d.responses.R]) : null,
    discountR: d.responses ? tf.tensor2d(gatherRows(d.responses.discount, d.responses.R, idx, 1), [B, d.responses.R]) : null,
    logpB: d.logpB ? tf.tensor2d(gatherRows(d.logpB, 1, idx, 1), [B, 1]) : null,
  };
}

/** Rows idx[0], idx[1], … of a flat [n × dim] array, each repeated `times` times (plain loops: rows are short). */
function gatherRows(src: Float32Array, dim: number, idx: Int32Array, times: number): Float32Array {
  const out = new Float32Array(idx.length * times * dim);
  let o = 0;
  for (let i = 0; i < idx.length; i++) {
    const from = idx[i] * dim;
    for (let t = 0; t < times; t++) for (let j = 0; j < dim; j++) out[o++] = src[from + j];
  }
  return out;
}

function disposeMinibatch(mb: Minibatch): void {
  tf.dispose([mb.s, mb.a, mb.r, mb.s2, mb.notDone, mb.mask]);
  if (mb.s2Rep) mb.s2Rep.dispose();
  if (mb.discount) mb.discount.dispose();
  if (mb.rR) mb.rR.dispose();
  if (mb.discountR) mb.discountR.dispose();
  if (mb.logpB) mb.logpB.dispose();
}

/**
 * π on the probe states: per-dim mean/std of α (logged units) and mean/std of Q1(s, π(s)) (reward units);
 * with responses also the mean Q1_i(s, π(s)) per response in response units (`policyQMean.<name>`).
 */
function probePolicy(algo: Algorithm, d: PreparedData, idx: Int32Array, norm: Normalization, rng: Rng, rewardScale: number, responses: Response[] | null) {
  const [S, A, m] = [d.stateDim, d.actionDim, idx.length];
  const s = new Float32Array(m * S);
  for (let i = 0; i < m; i++) s.set(d.s.subarray(idx[i] * S, (idx[i] + 1) * S), i * S);
  // The probe draws its own latent samples so that recording curves never moves the training RNG.
  const u = algo.act(s, m, new Rng(rng.getState()[0] ^ 0x2545f491));
  const mean = new Array<number>(A).fill(0);
  const sq = new Array<number>(A).fill(0);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < A; j++) {
      const [lo, hi] = [norm.actionMin[j], norm.actionMax[j]];
      const v = lo + ((u[i * A + j] + 1) / 2) * (hi - lo);
      mean[j] += v / m;
      sq[j] += (v * v) / m;
    }
  }
  const q = algo.q1(s, u, m);
  let qMean: number | null = null;
  let qStd: number | null = null;
  if (q) {
    qMean = q.reduce((x, y) => x + y, 0) / m;
    qStd = Math.sqrt(Math.max(q.reduce((x, y) => x + y * y, 0) / m - qMean * qMean, 0));
    qMean /= rewardScale;
    qStd /= rewardScale;
    if (!Number.isFinite(qMean)) throw new NonFiniteError('Q1(s, π(s)) on the probe states', 0, qMean);
  }
  const perResponse: Record<string, number> = {};
  const qr = responses ? (algo.qResponses?.(s, u, m) ?? null) : null;
  if (responses && qr) {
    const R = responses.length;
    responses.forEach((r, i) => {
      let acc = 0;
      for (let k = 0; k < m; k++) acc += qr[k * R + i];
      perResponse[`policyQMean.${r.name}`] = acc / m / (rewardScale * r.weight);
    });
  }
  return { actionMean: mean, actionStd: sq.map((v, j) => Math.sqrt(Math.max(v - mean[j] * mean[j], 0))), qMean, qStd, perResponse };
}

function assertFiniteState(algo: Algorithm, step: number): void {
  for (const [name, v] of algo.variables()) {
    const x = v.dataSync() as Float32Array;
    for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) throw new NonFiniteError(`tensor ${name}`, step, x[i]);
  }
}

function summarize(m: Record<string, number>, qPi: number | null): string {
  const f = (k: string, label: string) => (k in m ? `${label} ${m[k].toPrecision(3)}` : null);
  return [f('vaeLoss', 'vae'), f('criticLoss', 'critic'), f('actorLoss', 'actor'), f('qMean', 'Q'), qPi === null ? null : `Q(π) ${qPi.toPrecision(3)}`]
    .filter(Boolean)
    .join(' ');
}

function lastRecord(c: Curves): Record<string, number | null> {
  const i = c.step.length - 1;
  if (i < 0) return {};
  const out: Record<string, number | null> = {};
  for (const [k, col] of Object.entries(c.scalars)) out[k] = col[i];
  out.policyQMean = c.policyQMean[i];
  return out;
}

function algoOf(config: Record<string, unknown>): AlgoName {
  const a = config.algo ?? 'bcq';
  if ((ALGOS as readonly unknown[]).includes(a)) return a as AlgoName;
  throw new InputError(`config: algo: expected one of ${ALGOS.join(', ')}, but got ${JSON.stringify(a)}`, { field: 'algo' });
}

function algoBatchSize(cfg: AlgoConfig): number {
  return cfg.batchSize;
}

function count(x: Uint8Array): number {
  let c = 0;
  for (let i = 0; i < x.length; i++) c += x[i] ? 1 : 0;
  return c;
}

/**
 * Same data ⇔ same fingerprint: a resume onto other data is an input error, not a silent mix. The feedback
 * columns named by `responses` count too (only then: runs without responses keep their fingerprints).
 */
export function fingerprintBatch(b: TransitionBatch, feedbackNames: string[] = []): string {
  const h = createHash('sha256');
  h.update(`${b.n}:${b.stateDim}:${b.actionDim}`);
  for (const x of [b.state, b.action, b.reward, b.nextState, b.done, b.truncated]) h.update(new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
  for (const name of feedbackNames) {
    const x = Float32Array.from(feedbackColumn(b.feedback, name));
    h.update(`:${name}:`);
    h.update(new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
  }
  return h.digest('hex').slice(0, 16);
}

/** Fields a resumed run may change: how long, how often it reports, where it runs. */
const RESUME_MAY_CHANGE = new Set(['steps', 'checkpointEvery', 'logEvery', 'backend', 'threads']);

function checkResumable(m: { algo: string; config: Record<string, unknown>; progress: unknown; stateDim: number; actionDim: number }, algo: string, config: Record<string, unknown>, fingerprint: string, b: TransitionBatch): void {
  if (m.algo !== algo) throw new InputError(`cannot resume: the checkpoint is of ${m.algo}, the config asks for ${algo}`, { field: 'algo' });
  if (m.stateDim !== b.stateDim || m.actionDim !== b.actionDim) {
    throw new InputError(`cannot resume: the checkpoint has state/action dims ${m.stateDim}/${m.actionDim}, the data ${b.stateDim}/${b.actionDim}`);
  }
  const changed = Object.keys({ ...m.config, ...config }).filter(
    (k) => !RESUME_MAY_CHANGE.has(k) && JSON.stringify(m.config[k]) !== JSON.stringify(config[k]),
  );
  if (changed.length) throw new InputError(`cannot resume: config differs from the checkpoint's in ${changed.join(', ')} (only ${[...RESUME_MAY_CHANGE].join(', ')} may change)`, { field: changed[0] });
  if ((m.progress as SavedProgress).fingerprint !== fingerprint) {
    throw new InputError('cannot resume: the training data differs from the data the checkpoint was trained on (fingerprint mismatch)');
  }
}

function validateBatch(b: TransitionBatch): void {
  const need = (ok: boolean, field: string, msg: string) => {
    if (!ok) throw new InputError(`training data: ${field} ${msg}`, { field });
  };
  need(Number.isInteger(b.n) && b.n > 0, 'n', `must be a positive number of transitions, got ${b.n}`);
  need(b.stateDim > 0 && b.actionDim > 0, 'stateDim', `and actionDim must be positive, got ${b.stateDim} and ${b.actionDim}`);
  need(b.state.length === b.n * b.stateDim, 'state', `has ${b.state.length} values, expected n × stateDim = ${b.n * b.stateDim}`);
  need(b.nextState.length === b.n * b.stateDim, 'nextState', `has ${b.nextState.length} values, expected ${b.n * b.stateDim}`);
  need(b.action.length === b.n * b.actionDim, 'action', `has ${b.action.length} values, expected ${b.n * b.actionDim}`);
  need(b.reward.length === b.n, 'reward', `has ${b.reward.length} values, expected ${b.n}`);
  need(b.done.length === b.n && b.truncated.length === b.n, 'done', `and truncated must have ${b.n} entries`);
  for (const [field, x] of [['state', b.state], ['action', b.action], ['reward', b.reward], ['nextState', b.nextState]] as const) {
    const i = x.findIndex((v) => !Number.isFinite(v));
    if (i >= 0) {
      const dim = field === 'reward' ? 1 : field === 'action' ? b.actionDim : b.stateDim;
      need(false, field, `is not finite (${x[i]}) at row ${Math.floor(i / dim)}, column ${i % dim}`);
    }
  }
}

export type { TrainerConfig };
