/**
 * `mtf export` as a function: checkpoint → ONNX graphs → checks → gate → model store.
 *
 *   1. read the OPE report (first: a bad report fails before any model is loaded);
 *   2. load the policy from its checkpoint (src/rl), bake it into policy.onnx and scorer.onnx;
 *   3. run both graphs in onnxruntime on the check states: parity with the reference computation (and,
 *      for the deterministic policies, with the TensorFlow.js policy itself), actions finite and in bounds;
 *   4. the gate decides; the version is written either way (a rejected one for diagnosis) and CURRENT
 *      moves only on 'published'. A rejection throws GateRejectedError after the manifest is written.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { InputError, TransientError } from '../errors/index.ts';
import { checkActions, checkParity, checkStates } from './checks.ts';
import { decide, DEFAULT_TOLERANCE, GateRejectedError, type GateRule } from './gate.ts';
import { policyGraph, scorerGraph, SCORES_OUTPUT, STATE_INPUT, TASK_SCORES_INPUT, WEIGHTS_OUTPUT } from './graphs.ts';
import { MANIFEST_FORMAT, type Manifest } from './manifest.ts';
import type { PublishedExploration } from '../serving/exploration.ts';
import { chooseBeta, fusionModel } from './model.ts';
import { IR_VERSION, OPSET, PRODUCER } from './onnx/builder.ts';
import { pickBaseline, pickCandidate, readOpeReport, currentNames } from './opeReport.ts';
import { checkName, DEFAULT_KEEP, MANIFEST_FILE, readCurrent, writeVersion, type WrittenVersion } from './store.ts';
import { withPublishLock, type PublishLock, type StoreLeaseOptions } from './lock.ts';
import { packageVersion } from '../packageRoot.ts';

export interface ExportOptions {
  /** a training output directory (its latest checkpoint) or one checkpoint directory */
  checkpoint: string;
  /** ope-report.json with policies[{ name, v_hat, ci95 }] */
  opeReport: string;
  storeDir: string;
  name: string;
  /** trajectories directory (mtf ingest): state/action names, data window and counts, test states for the checks */
  data?: string;
  /**
   * β of Eq. (1): one value or one per task. Default: the logs' β (metadata.json of `data`, else the
   * training data's as training-report.json records it), else 0.01 with a warning; refused when it
   * disagrees with the logs' (chooseBeta)
   */
  beta?: number | number[];
  /** a line to show the operator (β unknown) */
  onWarning?: (line: string) => void;
  /** allowed V̂ shortfall against the baseline (default 0) */
  tolerance?: number;
  /** how the value check reads the report (gate.ts; default interval) */
  gateRule?: GateRule;
  /** versions kept besides CURRENT's (default 5) */
  keep?: number;
  /** the model's name in the OPE report (default: see pickCandidate) */
  candidate?: string;
  /** the baseline's name in the OPE report (default: the current model, else behavior) */
  baseline?: string;
  version?: string;
  /** seed of the baked BCQ latent samples (default 0) */
  latentSeed?: number;
  /** synthetic check states drawn from the training normalisation (default 1000) */
  checkStates?: number;
  /** logged test states added to the checks, at most (default 1000) */
  dataStates?: number;
  /** online exploration written into the manifest (schemas/exploration.md); default none */
  exploration?: PublishedExploration | null;
  /** clock, for tests */
  now?: () => Date;
  /** an outer lock held while the version is written (the BullMQ path: a Redis lease); the store's file lease is taken either way */
  publishLock?: PublishLock;
  /** the store's file lease (tests: a short lease, a simulated host) */
  lease?: StoreLeaseOptions;
}

const CheckpointManifest = z.object({ step: z.int().nonnegative(), config: z.record(z.string(), z.unknown()) });
const TrainingReport = z.object({
  actionNames: z.array(z.string()).optional(),
  beta: z.array(z.number()).nullable().optional(),
  dataset: z.object({ rows: z.int().nonnegative(), fingerprint: z.string() }).partial().optional(),
});

export async function exportModel(opts: ExportOptions): Promise<WrittenVersion> {
  checkName(opts.name, 'name');
  if (opts.version !== undefined) checkName(opts.version, 'version');
  const tolerance = opts.tolerance ?? DEFAULT_TOLERANCE;
  if (!Number.isFinite(tolerance) || tolerance < 0) throw new InputError(`--tolerance: expected a number ≥ 0, got ${tolerance}`, { field: '--tolerance' });
  const report = readOpeReport(opts.opeReport);
  const currentAtStart = readCurrent(opts.storeDir, opts.name);
  const baseline = pickBaseline(report, opts.name, currentAtStart, opts.baseline);
  const candidate = pickCandidate(report, opts.name, opts.candidate, currentAtStart ? currentNames(opts.name, currentAtStart) : []);
  if (candidate.name === baseline.name) throw new InputError(`--candidate and the baseline are both '${candidate.name}' in ${report.path}`, { field: '--candidate' });

  const ckptDir = checkpointDir(opts.checkpoint);
  const ckpt = readJson(join(ckptDir, 'manifest.json'), CheckpointManifest);
  const training = findTrainingReport(ckptDir);
  const data = opts.data ? await (await import('../data/index.ts')).readTrajectories(opts.data, 'test') : null; // arrow loads only here

  const { loadPolicy } = await import('../rl/index.ts'); // tfjs loads only here
  const policy = await loadPolicy(ckptDir, { backend: 'cpu' }); // the checkpoint read above, even if LATEST moves meanwhile
  try {
    const spec = policy.spec();
    const chosen = chooseBeta(
      spec.actionDim,
      {
        data: data?.metadata.beta ? { beta: data.metadata.beta, where: join(opts.data!, 'metadata.json') } : null,
        training: training?.beta ? { beta: training.beta, where: join(dirname(dirname(ckptDir)), 'training-report.json') } : null,
      },
      opts.beta,
    );
    if (chosen.warning) opts.onWarning?.(chosen.warning);
    const model = fusionModel(spec, { beta: chosen.beta, latentSeed: opts.latentSeed });
    if (model.networks.kind === 'bcq' && candidate.latent_seed !== undefined && candidate.latent_seed !== model.latentSeed) {
      // The gate's V̂ must be the V̂ of the function that ships: BCQ's α depends on the baked codes.
      const scored = candidate.latent_seed === null ? 'fresh latent codes per call' : `latent seed ${candidate.latent_seed}`;
      throw new InputError(
        `${report.path}: '${candidate.name}' was scored with ${scored}, but this export bakes latent seed ${model.latentSeed}: it would publish a function the evaluation did not score (evaluate and export with the same seed)`,
        { file: report.path, field: '--latent-seed' },
      );
    }
    const { stateDim: d, actionDim: k } = model;
    if (data && (data.metadata.state_dim !== d || data.metadata.action_dim !== k)) {
      throw new InputError(`${opts.data}: state/action dims ${data.metadata.state_dim}/${data.metadata.action_dim} differ from the policy's ${d}/${k}`, { file: opts.data });
    }
    const stateNames = data?.metadata.state_names ?? Array.from({ length: d }, (_, j) => `s${j}`);
    const actionNames = data?.metadata.action_names ?? training?.actionNames ?? Array.from({ length: k }, (_, j) => `a${j}`);
    const producerVersion = packageVersion();
    const info = { stateNames, actionNames, producerVersion };
    const files = { 'policy.onnx': policyGraph(model, info), 'scorer.onnx': scorerGraph(model, info) };

    const logged = data ? data.batch.state.subarray(0, Math.min(data.batch.n, opts.dataStates ?? 1000) * d) : undefined;
    const states = checkStates(model, opts.checkStates ?? 1000, logged);
    const { parity, alpha } = await checkParity({ policy: files['policy.onnx'], scorer: files['scorer.onnx'] }, model, states);
    if (model.networks.kind !== 'bcq') {
      // The deterministic policies need no baked samples: compare with the TensorFlow.js policy itself.
      const tfAlpha = policy.act(states, states.length / d);
      let diff = 0;
      for (let i = 0; i < alpha.length; i++) diff = Math.max(diff, Math.abs(alpha[i] - tfAlpha[i]));
      parity.tfjs_max_abs_diff = diff;
      if (!(diff <= parity.tolerance)) parity.passed = false;
    }
    const actions = checkActions(alpha, model.normalization, actionNames);
    const paired = report.baselineName === baseline.name ? (report.paired.get(candidate.name) ?? null) : null;
    const gate = decide({ candidate, baseline, tolerance, rule: opts.gateRule, paired, actions, parity });

    const norm = model.normalization;
    const written = await withPublishLock(opts.publishLock, { storeDir: opts.storeDir, name: opts.name }, (held) => writeVersion({
      storeDir: opts.storeDir,
      name: opts.name,
      version: opts.version,
      keep: opts.keep ?? DEFAULT_KEEP,
      held,
      lease: opts.lease,
      files,
      publish: ({ replaces }) => {
        if (replaces !== currentAtStart) throw new TransientError(`${opts.storeDir}/${opts.name}/CURRENT moved from ${currentAtStart} to ${replaces} during the export; run it again to gate against the new model`);
        return gate.decision === 'published';
      },
      manifest: ({ version, files: digests, replaces }): Manifest => ({
        format: MANIFEST_FORMAT,
        name: opts.name,
        version,
        created_at: (opts.now?.() ?? new Date()).toISOString(),
        status: gate.decision,
        replaces,
        producer: { name: PRODUCER, version: producerVersion },
        source: {
          checkpoint: resolve(ckptDir),
          step: ckpt.step,
          algo: spec.algo,
          policy_kind: model.networks.kind,
          config_hash: createHash('sha256').update(stableJson(ckpt.config)).digest('hex'),
          data_fingerprint: training?.dataset?.fingerprint ?? null,
        },
        data: {
          window: data?.metadata.window ?? null,
          counts: data ? (data.metadata.counts as unknown as Record<string, Record<string, number>>) : null,
          train_rows: data?.metadata.counts.train.transitions ?? training?.dataset?.rows ?? null,
        },
        state: { dim: d, names: stateNames },
        action: { dim: k, names: actionNames, min: norm.actionMin, max: norm.actionMax },
        beta: model.beta,
        beta_source: chosen.source,
        exploration: opts.exploration ?? null,
        normalization: { state_mean: norm.stateMean, state_std: norm.stateStd, action_min: norm.actionMin, action_max: norm.actionMax },
        onnx: {
          opset: OPSET,
          ir_version: IR_VERSION,
          latent_samples: model.networks.kind === 'bcq' ? model.networks.numSamples : 0,
          latent_seed: model.latentSeed,
          inputs: { [STATE_INPUT]: `float32 [N, ${d}]`, [TASK_SCORES_INPUT]: `float32 [N, C, ${k}] (scorer.onnx only)` },
          outputs: { [WEIGHTS_OUTPUT]: `float32 [N, ${k}]`, [SCORES_OUTPUT]: 'float32 [N, C] (scorer.onnx only)' },
        },
        files: digests,
        ope: { report: resolve(report.path), report_sha256: report.sha256, candidate, baseline },
        gate,
      }),
    }));
    if (!written.published) {
      const mPath = join(written.dir, MANIFEST_FILE);
      throw new GateRejectedError(
        `gate rejected ${opts.name}/${written.version}: ${gate.reason} (CURRENT still ${written.manifest.replaces ?? 'unset'}; see ${mPath})`,
        written.version,
        mPath,
      );
    }
    return written;
  } finally {
    policy.dispose();
  }
}

/** The checkpoint directory loadPolicy reads for `path` (a checkpoint, or a training output's latest). */
function checkpointDir(path: string): string {
  if (existsSync(join(path, 'manifest.json'))) return path;
  const latest = join(path, 'checkpoints', 'LATEST');
  if (!existsSync(latest)) throw new InputError(`--checkpoint: ${path} is neither a checkpoint (manifest.json) nor a training output (checkpoints/LATEST)`, { file: path, field: '--checkpoint' });
  return join(path, 'checkpoints', readFileSync(latest, 'utf8').trim());
}

/** training-report.json of the run: beside checkpoints/ (optional; names and data counts). */
function findTrainingReport(ckptDir: string): z.infer<typeof TrainingReport> | null {
  const path = join(dirname(dirname(ckptDir)), 'training-report.json');
  if (!existsSync(path)) return null;
  const r = TrainingReport.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  return r.success ? r.data : null;
}

function readJson<T>(path: string, schema: z.ZodType<T>): T {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new InputError(`${path}: unreadable (${(err as Error).message})`, { file: path });
  }
  const r = schema.safeParse(raw);
  if (!r.success) throw new InputError(`${path}: ${r.error.issues[0].path.join('.')}: ${r.error.issues[0].message}`, { file: path });
  return r.data;
}

/** JSON with object keys sorted (a stable hash of a config whatever its key order). */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${stableJson((v as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

