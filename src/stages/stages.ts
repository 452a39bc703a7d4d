/**
 * The stages of a pipeline run as plain functions: the embedded runner (`mtf run`) calls them in a row,
 * the BullMQ processors (jobs/) call one each. Every stage reads what the previous one left in the
 * run's directories (src/stages/run.ts) and writes its own output atomically, so a stage that is run
 * again — a retry, a stalled job picked up by another worker — finds either nothing or a complete
 * result, never half of one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors/index.ts';
import type { PublishLock } from '../export/lock.ts';
import type { EvaluateOptions } from '../ope/evaluate.ts';
import type { OpeReport } from '../ope/schemas.ts';
import { runDirs, type RunSpec } from './run.ts';

export interface StageContext {
  /** a line for the job log / terminal */
  log: (line: string) => void;
  /** progress of this stage, 0…100, with an ETA when known */
  progress: (percent: number, etaSeconds: number | null) => void;
  /** abort = stop at the next safe point (training: checkpoint and return 'interrupted') */
  signal?: AbortSignal;
  /**
   * publish: an outer lock held while the store is written, besides the store's own file lease (the
   * BullMQ workers pass a Redis lease, jobs/lease.ts); absent: the file lease alone.
   */
  publishLock?: PublishLock;
}

function windowOf(spec: RunSpec) {
  return { endDate: spec.date, days: spec.pipeline.ingest.window_days };
}

function rewardOf(spec: RunSpec) {
  return { weights: { ...spec.pipeline.ingest.reward_weights! } };
}

// ---- ingest: plan → shards (fan-out) → merge ----

/** The ingest's shard options: a partition larger than `ingest.shard_mib` fans out by file. */
function shardPlanOf(spec: RunSpec) {
  return { shardBytes: spec.pipeline.ingest.shard_mib * 2 ** 20 };
}

/** The shard keys of the run's window (one per dt= partition, more for a partition over shard_mib), in read order. */
export async function planIngest(spec: RunSpec): Promise<string[]> {
  const { planShards } = await import('../data/shards.ts');
  const plan = planShards(spec.pipeline.paths.logs, windowOf(spec), shardPlanOf(spec));
  if (plan.length === 0) {
    throw new InputError(`${spec.pipeline.paths.logs}: no log files for the window ending ${spec.date} (${spec.pipeline.ingest.window_days} days)`, { file: spec.pipeline.paths.logs });
  }
  return plan.map((s) => s.key);
}

/** One shard of the window read and checked; `inChild`: in a child process of its own (the embedded runner's fan-out). */
export async function ingestShardStage(spec: RunSpec, key: string, ctx: StageContext, opts: { inChild?: boolean } = {}) {
  const { planShards, readShard, readShardInChild } = await import('../data/shards.ts');
  const shard = planShards(spec.pipeline.paths.logs, windowOf(spec), shardPlanOf(spec)).find((s) => s.key === key);
  if (!shard) throw new InputError(`${spec.pipeline.paths.logs}: partition ${key} of the run's window is gone (it was there when the run was planned)`, { file: spec.pipeline.paths.logs });
  const out = join(runDirs(spec).shards, key);
  const o = { shard, window: windowOf(spec), reward: rewardOf(spec), out, threads: spec.pipeline.ingest.threads, buckets: spec.pipeline.ingest.merge_buckets, onProgress: ctx.log };
  const meta: Awaited<ReturnType<typeof readShard>> & { peak_rss_mib?: number } = opts.inChild ? await readShardInChild(o, ctx.signal) : await readShard(o);
  const rejected = Object.values(meta.rows_rejected).reduce((a, b) => a + (b ?? 0), 0);
  ctx.log(`shard ${key}: ${meta.files.length} files, ${meta.rows_read} rows read, ${rejected} rejected`);
  return {
    shard: key,
    dir: out,
    files: meta.files.length,
    rows_read: meta.rows_read,
    rows_kept: meta.rows,
    rows_rejected: rejected,
    ...(meta.peak_rss_mib !== undefined ? { child_peak_rss_mib: Math.round(meta.peak_rss_mib) } : {}),
  };
}

export async function mergeStage(spec: RunSpec, keys: string[], ctx: StageContext) {
  const dirs = runDirs(spec);
  const ing = spec.pipeline.ingest;
  if (ing.merge_buckets > 1) {
    // the embedded runner: every bucket here, one after another (the BullMQ workers fan them out as jobs)
    const plan = await planMergeStage(spec, keys, ctx);
    for (let b = 0; b < plan.buckets; b++) await mergeBucketStage(spec, keys, b, ctx);
    return finishMergeStage(spec, keys, ctx);
  }
  const { mergeShards } = await import('../data/shards.ts');
  const r = await mergeShards({ ...mergeInputs(spec, keys), out: dirs.trajectories, onProgress: (line) => ctx.log(`ingest: ${line}`) });
  return mergeResult(spec, r.report, ctx);
}

function mergeInputs(spec: RunSpec, keys: string[]) {
  const ing = spec.pipeline.ingest;
  return {
    logs: spec.pipeline.paths.logs,
    window: windowOf(spec),
    reward: rewardOf(spec),
    shards: keys.map((k) => join(runDirs(spec).shards, k)),
    inactivityGapMinutes: ing.inactivity_gap_minutes,
    testFraction: ing.test_fraction,
    beta: ing.beta,
  };
}

function mergeResult(spec: RunSpec, rep: { rows_read: number; sessions: number; train_sessions: number; test_sessions: number; sessions_dropped: number; transitions: number }, ctx: StageContext) {
  const dirs = runDirs(spec);
  ctx.log(`ingest: ${rep.rows_read} rows → ${rep.sessions} sessions (${rep.train_sessions} train / ${rep.test_sessions} test), ${rep.sessions_dropped} dropped`);
  return { trajectories: dirs.trajectories, rows_read: rep.rows_read, sessions: rep.sessions, transitions: rep.transitions, sessions_dropped: rep.sessions_dropped };
}

/** The bucketed merge's part directory of bucket b. */
export const bucketPartDir = (spec: RunSpec, b: number) => join(runDirs(spec).parts, `b${String(b).padStart(5, '0')}`);

/**
 * The bucketed merge, step 1: the train/test split planned from the shards' per-session starts, written
 * once to `parts/split.json` (a retry reads it back, so every bucket splits by the same cutoff).
 */
export async function planMergeStage(spec: RunSpec, keys: string[], ctx: StageContext) {
  const { planSplit, readSplitPlan } = await import('../data/bucketMerge.ts');
  const { readShardMeta } = await import('../data/shards.ts');
  const path = join(runDirs(spec).parts, 'split.json');
  if (existsSync(path)) return readSplitPlan(path);
  const plan = planSplit(mergeInputs(spec, keys).shards.map(readShardMeta), spec.pipeline.ingest.test_fraction);
  if (plan.buckets !== spec.pipeline.ingest.merge_buckets) {
    throw new InputError(`${runDirs(spec).shards}: the shards were written in ${plan.buckets} buckets, the pipeline asks for ${spec.pipeline.ingest.merge_buckets}`, { field: 'ingest.merge_buckets' });
  }
  const { mkdirSync } = await import('node:fs');
  const { writeJsonAtomic } = await import('../io/index.ts');
  mkdirSync(runDirs(spec).parts, { recursive: true });
  writeJsonAtomic(path, plan);
  ctx.log(`ingest: split planned over ${plan.sessions} sessions (${plan.test_sessions} test) for ${plan.buckets} buckets`);
  return plan;
}

/** The bucketed merge, step 2 (one job per bucket): bucket b of every shard → its part (skipped when the part exists). */
export async function mergeBucketStage(spec: RunSpec, keys: string[], bucket: number, ctx: StageContext) {
  const { mergeBucket, readSplitPlan } = await import('../data/bucketMerge.ts');
  const out = bucketPartDir(spec, bucket);
  if (existsSync(join(out, 'ingest-report.json'))) return { bucket, part: out, reused: true };
  const plan = readSplitPlan(join(runDirs(spec).parts, 'split.json'));
  const t = performance.now();
  const r = await mergeBucket({ ...mergeInputs(spec, keys), bucket, plan, out, onProgress: (line) => ctx.log(`ingest: ${line}`) });
  const seconds = (performance.now() - t) / 1000;
  ctx.log(`ingest: bucket ${bucket}: ${r.report.sessions} sessions, ${r.report.transitions} transitions (${seconds.toFixed(1)} s)`);
  return { bucket, part: out, sessions: r.report.sessions, transitions: r.report.transitions, seconds };
}

/** The bucketed merge, step 3: the parts → the run's trajectories (format 3). */
export async function finishMergeStage(spec: RunSpec, keys: string[], ctx: StageContext) {
  const { finishBuckets } = await import('../data/bucketMerge.ts');
  const dirs = runDirs(spec);
  const parts = Array.from({ length: spec.pipeline.ingest.merge_buckets }, (_, b) => bucketPartDir(spec, b));
  const done = join(dirs.trajectories, 'ingest-report.json');
  if (existsSync(done) && !parts.some((p) => existsSync(p))) {
    // finished before (a retry after the parts were placed and removed): the trajectories are complete
    const { IngestReport } = await import('../data/index.ts');
    return mergeResult(spec, IngestReport.parse(JSON.parse(readFileSync(done, 'utf8'))), ctx);
  }
  const r = await finishBuckets({ logs: spec.pipeline.paths.logs, shards: mergeInputs(spec, keys).shards, parts, out: dirs.trajectories, removeParts: true });
  return mergeResult(spec, r.report, ctx);
}

// ---- train ----

export async function trainStage(spec: RunSpec, ctx: StageContext) {
  const { readTrajectories } = await import('../data/index.ts');
  const { train } = await import('../rl/index.ts');
  const dirs = runDirs(spec);
  const t = spec.pipeline.train;
  // a sample of whole sessions when train.sample_sessions < 1: the same sample on a retry (fixed seed), so a resume finds its data
  const { batch, metadata } = await readTrajectories(dirs.trajectories, 'train', { sessionShare: t.sample_sessions, sampleSeed: 0 });
  if (t.sample_sessions < 1) ctx.log(`train: a sample of ${batch.sessionIds.length} of ${metadata.counts.train.sessions} sessions (${batch.n} of ${metadata.counts.train.transitions} transitions)`);
  // A retry or a stalled job picked up elsewhere continues from the last checkpoint.
  const resume = existsSync(join(dirs.train, 'checkpoints', 'LATEST'));
  if (resume) ctx.log(`train: resuming from ${join(dirs.train, 'checkpoints')}`);
  // the rate counts from the first step: reading and preparing the data before it are not steps
  let first: { step: number; at: number } | null = null;
  let lastReport = 0;
  // box-aware training: μ(s) of every row from the versions policy_id names (before the states are normalised in place)
  let behaviorMean: Float32Array | undefined;
  if ((t.config as { behaviorBox?: unknown }).behaviorBox) {
    const { behaviorMeans } = await import('./behaviorMeans.ts');
    behaviorMean = await behaviorMeans(batch, { store: spec.pipeline.paths.store, model: spec.pipeline.publish.model, policies: t.behavior_policies });
    ctx.log(`train: behavior box around the live policy of ${batch.policyId?.values.length ?? 0} policy ids`);
  }
  const { policy, report } = await train({
    behaviorMean,
    batch,
    stats: { state: metadata.state_stats, action: metadata.action_stats },
    actionNames: metadata.action_names,
    beta: metadata.beta,
    config: { ...t.config, algo: t.algo, steps: t.steps, checkpointEvery: t.checkpoint_every },
    outDir: dirs.train,
    resume,
    progress: 'none',
    consumeStates: true, // read for this stage only: normalised in place (1.4 GB less at the paper's scale)
    signal: ctx.signal,
    onStep: (step) => {
      const now = performance.now();
      first ??= { step, at: now };
      if (now - lastReport < 1000 && step < t.steps) return;
      lastReport = now;
      // no ETA until a second of steps has been timed (the first report would otherwise divide by ~0)
      const secs = (now - first.at) / 1000;
      const rate = secs >= 1 ? (step - first.step) / secs : 0;
      ctx.progress((100 * step) / t.steps, rate > 0 ? (t.steps - step) / rate : null);
    },
  });
  policy.dispose();
  ctx.log(`train ${report.algo}: ${report.status} at step ${report.stepsDone}/${report.stepsRequested}, ${report.itPerSec.toFixed(1)} it/s on ${report.backend}`);
  return { status: report.status, train: dirs.train, steps: report.stepsDone, algo: report.algo, it_per_s: report.itPerSec, resumed: resume };
}

// ---- evaluate: the candidate, the live model and the references ----

/** The candidate's name in the OPE report and the gate: the algorithm that trained it (e.g. 'bcq'). */
export function candidateName(spec: RunSpec): string {
  return spec.pipeline.train.algo;
}

/**
 * What the evaluation of a run reads: the test split, the candidate, the reference policies and the
 * live model (or the baseline the gate compares with); `dispose` frees the loaded policies.
 */
export async function loadEvaluation(spec: RunSpec, ctx: StageContext) {
  const { readTrajectories } = await import('../data/index.ts');
  const { loadEvalPolicy } = await import('../ope/policies.ts');
  const { OpeConfigSchema } = await import('../ope/config.ts');
  const { readCurrent, modelDir } = await import('../export/index.ts');
  const dirs = runDirs(spec);
  const p = spec.pipeline;
  // a sample of whole test sessions when evaluate.sample_sessions < 1: a fixed seed, so the fit jobs, the
  // parent that assembles their report and any retry all read the same sessions
  const share = p.evaluate.sample_sessions;
  const { batch, metadata } = await readTrajectories(dirs.trajectories, 'test', { sessionShare: share, sampleSeed: 1 });
  if (share < 1) ctx.log(`evaluate: a sample of ${batch.sessionIds.length} of ${metadata.counts.test.sessions} test sessions (${batch.n} of ${metadata.counts.test.transitions} transitions)`);
  const parsed = OpeConfigSchema.safeParse(p.evaluate.config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(`pipeline ${p.name}: field 'evaluate.config.${issue.path.join('.')}': ${issue.message}`, { field: `evaluate.config.${issue.path.join('.')}` });
  }
  const dims = { stateDim: batch.stateDim, actionDim: batch.actionDim, backend: parsed.data.backend };
  const policies = [await loadEvalPolicy(`${candidateName(spec)}=${dirs.train}`, { ...dims, field: 'candidate' })];
  for (const s of p.evaluate.policies) policies.push(await loadEvalPolicy(s, { ...dims, field: 'evaluate.policies' }));
  const live = readCurrent(p.paths.store, p.publish.model);
  // no live model yet: the policy the gate compares with — the one publish.baseline names (the constant
  // the stack runs), else behavior — is the report's baseline, so that every policy gets a paired
  // difference against it (the paired gate rule reads it)
  const baseline = live
    ? await loadEvalPolicy(modelDir(p.paths.store, p.publish.model), { ...dims, field: 'live model' })
    : (policies.find((x) => x.name === (p.publish.baseline ?? 'behavior')) ?? null);
  const options: EvaluateOptions = {
    batch,
    metadata,
    dataDir: dirs.trajectories,
    policies,
    baseline,
    config: parsed.data,
    onProgress: (line) => ctx.log(`evaluate: ${line}`),
  };
  const dispose = async () => {
    for (const x of new Set([...policies, ...(baseline ? [baseline] : [])])) if (x.kind === 'fn') await x.dispose?.();
  };
  return { options, dispose };
}

/** ope-report.json (+ html, csv) of the run, and the stage's result: where, and every policy's V̂. */
export async function writeEvaluation(spec: RunSpec, ctx: StageContext, report: OpeReport, live: string | null) {
  const ope = await import('../ope/report.ts');
  const files = ope.writeOpeReport(runDirs(spec).ope, report);
  const all = [...report.policies, ...(report.baseline && !report.policies.some((x) => x.name === report.baseline!.name) ? [report.baseline] : [])];
  const values = Object.fromEntries(all.map((x) => [x.name, { v_hat: x.v_hat, ci95: x.ci95 }]));
  ctx.log(`evaluate: ${all.map((x) => `${x.name} V̂ ${x.v_hat.toPrecision(4)} [${x.ci95[0].toPrecision(4)}, ${x.ci95[1].toPrecision(4)}]`).join('; ')}`);
  return { report: files.json, html: files.html, live, values };
}

/** The evaluation in this process, its fits on worker threads (src/ope/fitPool.ts). */
export async function evaluateStage(spec: RunSpec, ctx: StageContext) {
  const ope = await import('../ope/index.ts');
  const { options, dispose } = await loadEvaluation(spec, ctx);
  try {
    const report = await ope.evaluatePolicies(options);
    return await writeEvaluation(spec, ctx, report, options.baseline?.name ?? null);
  } finally {
    await dispose();
  }
}

// ---- publish: export, gate, store (exactly one version per run) ----

export function versionOf(spec: RunSpec): string {
  return spec.runId;
}

/** `beta`: export with this β instead of the logs' (the loop's stress night; the export refuses one that disagrees). */
export async function publishStage(spec: RunSpec, ctx: StageContext, o: { beta?: number[] } = {}) {
  const exp = await import('../export/index.ts');
  const dirs = runDirs(spec);
  const p = spec.pipeline;
  const version = versionOf(spec);
  const dir = join(exp.modelDir(p.paths.store, p.publish.model), version);
  // Run again after a crash? The version directory appears atomically (rename), so it is either
  // absent (export again) or complete: then only CURRENT may lag behind, if the crash fell between
  // the rename and the CURRENT write.
  if (existsSync(join(dir, exp.MANIFEST_FILE))) {
    const m = exp.ManifestSchema.parse(JSON.parse(readFileSync(join(dir, exp.MANIFEST_FILE), 'utf8')));
    const current = exp.readCurrent(p.paths.store, p.publish.model);
    if (m.status === 'published' && current !== version && current === m.replaces) {
      // under the publish lock(s), and only if CURRENT still names what this version replaces
      const target = { storeDir: p.paths.store, name: p.publish.model };
      await exp.withPublishLock(ctx.publishLock, target, (held) => exp.setCurrent({ ...target, version, expect: m.replaces, held }));
      ctx.log(`publish: ${version} was written by an earlier try; CURRENT moved to it now`);
    } else ctx.log(`publish: ${version} was written by an earlier try (${m.status}); nothing to do`);
    return { version, decision: m.gate.decision, reason: m.gate.reason, dir, current: exp.readCurrent(p.paths.store, p.publish.model) };
  }
  try {
    const v = await exp.exportModel({
      checkpoint: dirs.train,
      opeReport: join(dirs.ope, 'ope-report.json'),
      storeDir: p.paths.store,
      name: p.publish.model,
      data: dirs.trajectories,
      candidate: candidateName(spec),
      // no live model yet: the constant the stack runs today, when the pipeline names it (else behavior)
      baseline: exp.readCurrent(p.paths.store, p.publish.model) === null ? p.publish.baseline : undefined,
      exploration: p.publish.exploration,
      gateRule: p.publish.gate,
      beta: o.beta,
      tolerance: p.publish.tolerance,
      keep: p.publish.keep,
      version,
      publishLock: ctx.publishLock,
      onWarning: (line) => ctx.log(`publish: warning: ${line}`),
    });
    ctx.log(`publish: ${version} ${v.manifest.gate.decision}: ${v.manifest.gate.reason}`);
    return { version, decision: v.manifest.gate.decision, reason: v.manifest.gate.reason, dir: v.dir, current: exp.readCurrent(p.paths.store, p.publish.model) };
  } catch (err) {
    if (!(err instanceof exp.GateRejectedError)) throw err;
    // A rejection is a decision, not a failure of the stage: the run ends 'rejected', CURRENT unchanged.
    ctx.log(`publish: ${version} rejected: ${err.message}`);
    return { version, decision: 'rejected', reason: err.message, dir, current: exp.readCurrent(p.paths.store, p.publish.model) };
  }
}
