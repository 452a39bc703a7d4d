/**
 * manifest.json of one model version in the store: the contract between the export and every reader
 * (FusionScorer, a ranking stack in another language). This zod schema is the source of truth;
 * schemas/manifest.schema.json is rendered from it (renderManifestSchema) and a test fails on drift.
 * Prose in schemas/manifest.md.
 */
import { z } from 'zod';
import { PublishedExplorationSchema } from '../serving/exploration.ts';

export const MANIFEST_FORMAT = 'batchrl-mtf/model-manifest@1';
export const MODEL_FILES = ['policy.onnx', 'scorer.onnx'] as const;
export type ModelFile = (typeof MODEL_FILES)[number];

const num = () => z.number();
const nums = () => z.array(z.number());
const int = () => z.int().nonnegative();

const FileEntry = z.object({
  sha256: z.string().regex(/^[0-9a-f]{64}$/).describe('hex SHA-256 of the file'),
  bytes: int(),
});

const OpeEntry = z.object({
  name: z.string().describe('the policy\'s name in the OPE report'),
  v_hat: num().describe('estimated policy value V̂'),
  ci95: z.tuple([num(), num()]).nullable().describe('95% confidence interval of V̂ [lo, hi]; null when the report has none'),
});

const ParitySummary = z.object({
  passed: z.boolean(),
  states: int(),
  max_abs_diff: num().describe('max |α_onnx − α_reference| outside near-tie flips'),
  near_ties: int().describe('states whose best two Q1 candidates are within the tie tolerance'),
  near_tie_flips: int().describe('near-tie states where onnxruntime chose another candidate'),
  mismatches: int().describe('states beyond tolerance that are not near-ties'),
  score_max_rel_diff: num(),
  scorer_policy_diff: num().describe('max |α_scorer.onnx − α_policy.onnx|'),
  tfjs_max_abs_diff: num().nullable().describe('max |α_onnx − α_TensorFlow.js policy| (deterministic policies; null for BCQ, whose TF.js policy samples new z per call)'),
  tolerance: num(),
});

export const ManifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  name: z.string().describe('model name: models/<name>/'),
  version: z.string().describe('version directory name: models/<name>/<version>/'),
  created_at: z.string().describe('ISO-8601 time of the export'),
  status: z.enum(['published', 'rejected']).describe('published: the gate passed and CURRENT named this version when it was written; rejected: kept for diagnosis, never served'),
  replaces: z.string().nullable().describe('the version CURRENT named when this one was exported (null: none)'),
  producer: z.object({ name: z.string(), version: z.string() }),
  source: z.object({
    checkpoint: z.string().describe('the checkpoint directory exported'),
    step: int().nullable(),
    algo: z.string().describe('training algorithm (bcq, bc, td3, td3bc, tscac, iql)'),
    policy_kind: z.enum(['bcq', 'vae-decoder', 'deterministic']),
    config_hash: z.string().describe('SHA-256 of the run config (keys sorted, JSON)'),
    data_fingerprint: z.string().nullable().describe('fingerprint of the training data (training report), when known'),
  }),
  data: z.object({
    window: z
      .object({ end_date: z.string(), days: z.int().positive(), start_ms: num(), end_ms: num() })
      .nullable()
      .describe('the log window the trajectories came from (null when unknown)'),
    counts: z.record(z.string(), z.record(z.string(), num())).nullable().describe('split → counts (sessions, transitions, …) from the trajectory metadata'),
    train_rows: int().nullable().describe('transitions the policy was trained on'),
  }),
  state: z.object({ dim: z.int().positive(), names: z.array(z.string()).describe('feature order of the state input') }),
  action: z.object({
    dim: z.int().positive(),
    names: z.array(z.string()).describe('task order of fusion_weights, task_scores and beta'),
    min: nums().describe('lower bound of each α_i: the action interval the policy was trained in (training config actionInterval); the graphs clip to it'),
    max: nums().describe('upper bound of each α_i (the action interval)'),
  }),
  beta: nums().describe('β_i of Eq. (1): scores = Σ_i α_i·log(o_i + β_i)'),
  beta_source: z
    .enum(['logs', 'option', 'default'])
    .optional()
    .describe(
      "where beta came from: logs = the β of the ranking stack that wrote the training logs (footer mtf.beta or the ingest setting, via metadata.json); option = mtf export --beta, the logs' β unknown; default = neither: 0.01, a guess. Absent in manifests written before it",
    ),
  exploration: PublishedExplorationSchema.nullable()
    .optional()
    .describe('online exploration the ranking stack applies around fusion_weights, per session (schemas/exploration.md): arms, shares, σ, the HMAC key. null or absent (manifests written before it): none, serve fusion_weights as is'),
  normalization: z.object({
    state_mean: nums(),
    state_std: nums(),
    action_min: nums(),
    action_max: nums(),
  }).describe('inside the graphs already: s_norm = (s − mean)/std, α = min + (u + 1)/2·(max − min)'),
  onnx: z.object({
    opset: z.int().positive(),
    ir_version: z.int().positive(),
    latent_samples: int().describe('BCQ: n baked latent samples scored per state (0: none)'),
    latent_seed: int().nullable(),
    inputs: z.record(z.string(), z.string()).describe('input name → dtype and shape'),
    outputs: z.record(z.string(), z.string()).describe('output name → dtype and shape'),
  }),
  files: z.object({ 'policy.onnx': FileEntry, 'scorer.onnx': FileEntry }),
  ope: z.object({
    report: z.string().describe('path of the OPE report read'),
    report_sha256: z.string(),
    candidate: OpeEntry.describe('this model in the report'),
    baseline: OpeEntry.extend({ role: z.enum(['current', 'behavior']) }).describe('what it was compared with'),
  }),
  gate: z.object({
    decision: z.enum(['published', 'rejected']),
    reason: z.string().describe('one line: why'),
    reasons: z.array(z.string()).describe('every failed check (empty when published)'),
    tolerance: num().describe('allowed V̂ shortfall: publish iff ci95.lo(candidate) ≥ V̂(baseline) − tolerance (rule interval), or iff the paired lower bound V̂(baseline) + ci95.lo(V̂(candidate) − V̂(baseline)) ≥ V̂(baseline) − tolerance (rule paired)'),
    rule: z.enum(['interval', 'paired']).optional().describe('how the value check read the OPE report (absent in manifests written before it: interval)'),
    value: z.object({ passed: z.boolean(), lower_bound: num().nullable(), threshold: num() }),
    actions: z.object({ passed: z.boolean(), states: int(), non_finite: int(), out_of_bounds: int(), first_problem: z.string().nullable() }),
    parity: ParitySummary,
  }),
});
export type Manifest = z.infer<typeof ManifestSchema>;

export function renderManifestSchema(): string {
  const body = z.toJSONSchema(ManifestSchema, { target: 'draft-2020-12' }) as Record<string, unknown>;
  return JSON.stringify({ $id: 'batchrl-mtf/manifest.schema.json', title: 'manifest.json of a model version in the model store', ...body }, null, 2) + '\n';
}
