/**
 * The training loop shared by every algorithm: sample a minibatch, step, check, record, checkpoint.
 *
 * - The data (trainingData.ts): truncated rows (the data window cut the session; s′ unknown) stay in the
 *   data for the VAE and the actor but get weight 0 in the critic loss: their TD target has nothing to
 *   bootstrap from, and treating them as terminal would teach the critic that cut sessions end.
 * - Critic targets (targets.ts) span `nStep` logged steps (README §3): the rewards of the next m ≤ n rows of
 *   the session, then γ^m·Q′ at the state after them (no bootstrap when the session ends inside; an n-step
 *   window that reaches a truncated row bootstraps from that row's state, which is known).
 * - Rewards are multiplied by `rewardScale` for training; the reported Q statistics are divided by it
 *   again (monitor.ts), so curves and reports read in reward units.
 * - With `responses` (per-response critics, README §7) each named feedback column v_i gets its own n-step
 *   columns κ·w_i·Σ γ_i^k v_{i,t+k} and γ_i^m·(1 − done) over the same windows; 'auto' κ is computed on
 *   Σ_i w_i v_i, and the per-response statistics are reported in response units.
 * - All randomness comes from one Rng(seed): initialisation, minibatch indices (minibatch.ts), noise. Same
 *   seed + same backend → the same weights, bit for bit; `resume` (resume.ts) restores the RNG with the
 *   weights, so an interrupted and resumed run equals an uninterrupted one.
 * - A non-finite step scalar stops the run at once with NonFiniteError naming it; checkpoints are only
 *   written after every tensor of the state was checked finite (divergence.ts).
 */
import { mkdirSync } from 'node:fs';
import type { TransitionBatch } from '../data/trajectoryTypes.ts';
import { InputError } from '../errors/index.ts';
import type { Algorithm } from './algorithm.ts';
import { createAlgorithm } from './algorithms.ts';
import { initBackend, type BackendInfo } from './backend.ts';
import { loadNativeBlas } from './native.ts';
import { readLatestCheckpoint, restoreVariables, writeCheckpoint } from './checkpoint.ts';
import { ALGOS, runConfigSchema, splitRunConfig, type AlgoConfig, type AlgoName, type Response, type TrainerConfig } from './config.ts';
import { assertFiniteState, NonFiniteError } from './divergence.ts';
import { disposeMinibatch, sampleMinibatch } from './minibatch.ts';
import { lastRecord, probePolicy, summarize, unscaleStats } from './monitor.ts';
import { normalizedBox, shareOutsideBox } from './behaviorBox.ts';
import { dimStats, normalizationFromStats, normalizeActions, outsideBox, type DimStats, type Normalization } from './normalization.ts';
import { Policy } from './policy.ts';
import { createProgress, type ProgressMode } from './progress.ts';
import { appendRecord, emptyCurves, IntervalMeans, REPORT_FORMAT, writeReport, type Curves, type TrainingReport } from './report.ts';
import { checkResumable, fingerprintBatch, type SavedProgress } from './resume.ts';
import { Rng, type RngState } from './rng.ts';
import { feedbackColumn, targetOptions } from './targets.ts';
import { prepareData, validateBatch } from './trainingData.ts';

export { NonFiniteError };

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
  /**
   * the batch is the trainer's to spend: its state rows are normalised in place instead of copied (the
   * stage that read it from disk passes this; batch.state is not the logged states afterwards)
   */
  consumeStates?: boolean;
  /** called after every step with its scalars (job progress, tests) */
  onStep?: (step: number, stats: Record<string, number>) => void;
  /**
   * Box-aware training (config behaviorBox): the live policy's mean α at each row's state, [n × actionDim]
   * in logged units — the served version's output, which policy_id names (src/stages/behaviorMeans.ts).
   */
  behaviorMean?: Float32Array;
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
  const box = trainer.behaviorBox ? normalizedBox(trainer.behaviorBox, norm) : null;
  if (box) checkBehaviorMean(opts.behaviorMean, batch.n, batch.actionDim);
  const data = prepareData(batch, norm, targets, { consumeStates: opts.consumeStates });
  let boxShareOutside = 0;
  if (box) {
    data.boxMu = normalizeActions(opts.behaviorMean!, norm, true);
    const share = (boxShareOutside = shareOutsideBox(data.a, data.boxMu, data.n, box.half));
    progress.log(`behavior box: ±[${Array.from(box.half, (h) => h.toFixed(3)).join(', ')}] around μ(s) (normalised); ${(100 * share).toFixed(1)}% of rows' actions outside it`);
  }
  const rng = new Rng(trainer.seed);
  const algo = createAlgorithm(trainer.algo, batch.stateDim, batch.actionDim, algoCfg, rng);
  try {
    algo.prepare?.({ r: data.r, responses: data.responses, logpB: data.logpB ?? null, steps: trainer.steps });
    if (box) {
      if (!algo.setBehaviorBox) throw new InputError(`config: behaviorBox: ${trainer.algo} has no box-aware form (td3, td3bc and iql have)`, { field: 'behaviorBox' });
      algo.setBehaviorBox(box);
    }
  } catch (err) {
    algo.dispose();
    throw err;
  }
  algo.setActionSpread?.(dimStats(data.a, data.n, data.actionDim).std); // the VAE's standardized error (README §3.4)
  const fused = trainer.fusedStep && backend.name === 'native' && useFusedStep(algo, trainer.threads, algoBatchSize(algoCfg));
  if (fused) progress.log('training step: fused, one native call per step (native/blas/mtf_fused.c)');
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
    backend: fused ? `${backend.detail}, fused step` : backend.detail,
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
    ...(box ? { behaviorBox: { half: Array.from(box.half), shareOutside: boxShareOutside } } : {}),
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

function algoOf(config: Record<string, unknown>): AlgoName {
  const a = config.algo ?? 'bcq';
  if ((ALGOS as readonly unknown[]).includes(a)) return a as AlgoName;
  throw new InputError(`config: algo: expected one of ${ALGOS.join(', ')}, but got ${JSON.stringify(a)}`, { field: 'algo' });
}

/** Hands the native addon to an algorithm that can run its step fused; false when it cannot. */
function useFusedStep(algo: Algorithm, threads: number, batchSize: number): boolean {
  if (!algo.useFusedStep) return false;
  const load = loadNativeBlas(threads);
  return load.ok && algo.useFusedStep(load.blas, batchSize);
}

/** behaviorBox needs μ(s) for every row: [n × actionDim], finite. */
function checkBehaviorMean(mu: Float32Array | undefined, n: number, A: number): void {
  if (!mu) throw new InputError('config: behaviorBox needs the live policy\'s mean α of every row (TrainOptions.behaviorMean; the pipeline resolves it from policy_id)', { field: 'behaviorBox' });
  if (mu.length !== n * A) throw new InputError(`behaviorMean: ${mu.length} values, expected ${n} rows × ${A}`, { field: 'behaviorMean' });
  const i = mu.findIndex((v) => !Number.isFinite(v));
  if (i >= 0) throw new InputError(`behaviorMean: not finite (${mu[i]}) at row ${Math.floor(i / A)}, column ${i % A}`, { field: 'behaviorMean' });
}

function algoBatchSize(cfg: AlgoConfig): number {
  return cfg.batchSize;
}

function count(x: Uint8Array): number {
  let c = 0;
  for (let i = 0; i < x.length; i++) c += x[i] ? 1 : 0;
  return c;
}

export type { TrainerConfig };
