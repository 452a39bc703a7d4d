/**
 * The evaluate stage fanned out over jobs (pipeline `evaluate.fan_out: jobs`; the BullMQ processor in
 * jobs/processors/evaluateJobs.ts drives it): the stage's three parts as plain functions.
 *
 *   planEvaluateFits   the evaluate job, first: the fits' inputs into <run>/a<n>/ope/fits/ (src/ope/fitBundle.ts)
 *   evaluateFitStage   a fit job: one policy's full-data fit or one bootstrap refit, its result file there
 *   assembleEvaluation the evaluate job, last: ope-report.json from the result files, as evaluateStage writes it
 *
 * `mtf run` (embedded) never fans out: it evaluates in its own process with the thread pool.
 */
import { join } from 'node:path';
import type { FitKey } from '../ope/fitRequests.ts';
import { runDirs, workerName, type RunSpec } from './run.ts';
import { loadEvaluation, writeEvaluation, type StageContext } from './stages.ts';

/** Where a run's fanned-out evaluation keeps its fits' inputs and results. */
export function fitsDir(spec: RunSpec): string {
  return join(runDirs(spec).ope, 'fits');
}

export async function planEvaluateFits(spec: RunSpec, ctx: StageContext) {
  const { readFitPlan, writeFitBundle } = await import('../ope/fitBundle.ts');
  const dir = fitsDir(spec);
  const known = readFitPlan(dir);
  if (known) return known;
  const { options, dispose } = await loadEvaluation(spec, ctx);
  try {
    return await writeFitBundle(options, dir);
  } finally {
    await dispose();
  }
}

/** One fit; its result file is its record (a second run of the same job reads it and returns). */
export async function evaluateFitStage(spec: RunSpec, at: FitKey) {
  const { runBundledFit } = await import('../ope/fitBundle.ts');
  const worker = workerName();
  const r = await runBundledFit(fitsDir(spec), at, spec.pipeline.evaluate.config, worker);
  return { fit: `${at.policy}-${at.refit}`, file: r.file, reused: r.reused, seconds: r.seconds, v_hat: r.value[0], worker };
}

export async function assembleEvaluation(spec: RunSpec, ctx: StageContext) {
  const { reportFromFits } = await import('../ope/fitBundle.ts');
  const { options, dispose } = await loadEvaluation(spec, ctx);
  try {
    const { report, workers } = await reportFromFits(options, fitsDir(spec));
    const result = await writeEvaluation(spec, ctx, report, options.baseline?.name ?? null);
    // where the fits ran: worker process (host/pid) → fits
    const byWorker: Record<string, number> = {};
    for (const w of workers.values()) byWorker[w.split('#')[0]] = (byWorker[w.split('#')[0]] ?? 0) + 1;
    ctx.log(`evaluate: ${workers.size} fits from ${Object.keys(byWorker).length} worker processes (${Object.entries(byWorker).map(([w, n]) => `${w}: ${n}`).join(', ')})`);
    return { ...result, fits: workers.size, fits_by_worker: byWorker };
  } finally {
    await dispose();
  }
}
