/**
 * The exploration contract (issue 18 §1, first piece; paper BatchRL-MTF §3.3 mixed multi-exploration).
 * Pure functions, no I/O, no randomness of their own: a ranking stack assigns each session to an arm
 * from a keyed hash of its session id, draws k standard normals z per request from any generator it
 * likes, and gets α = μ + σ·z, the exact log-density of the float32 α under the arm, and the policy_id
 * to log. The algorithm is specified for other languages in schemas/exploration.md, with test vectors
 * in schemas/exploration-test-vectors.json (made by test/serving/exploration.vectors.ts).
 *
 * Not clipped: α is never clipped to an interval, so the density is the plain diagonal Gaussian.
 * `actionInterval` is carried in the settings (validated, min < max) but explore() does not apply it;
 * clipping would put point masses on the bounds that the Gaussian density does not describe.
 *
 * Wired into: the manifest (`exploration`, written by the publish stage from the pipeline's
 * `publish.exploration`), FusionScorer.scoreSessions, `mtf serve` (`session_ids`), and through
 * FusionScorer the simulator's `--policy store:<dir>/<name>` and the nightly loop (src/stages/loop.ts).
 */
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { InputError } from '../errors/index.ts';

const LOG_2PI = Math.log(2 * Math.PI);
/** |Σ shares − 1| allowed */
export const SHARE_SUM_TOLERANCE = 1e-9;

export const ExplorationArmSchema = z.object({
  name: z
    .string()
    .regex(/^[a-z][a-z0-9_]*$/, 'arm name: lower-case letters, digits and _, starting with a letter')
    .describe('arm id, logged as the first part of policy_id'),
  share: z.number().min(0).max(1).describe('share of sessions assigned to this arm'),
  sigma: z.number().min(0).describe('σ of α ~ N(μ, σ² I) per request; 0 = no exploration (control)'),
});
export type ExplorationArm = z.infer<typeof ExplorationArmSchema>;

const explorationFields = {
  arms: z.array(ExplorationArmSchema).min(1).describe('in assignment order: cumulative shares are taken in this order'),
  actionInterval: z
    .object({ min: z.number(), max: z.number() })
    .refine((r) => r.min < r.max, { message: 'actionInterval.min must be < actionInterval.max', path: ['min'] })
    .optional()
    .describe('carried with the settings; NOT applied by explore() (α is never clipped)'),
};

function checkArms(s: { arms: ExplorationArm[] }, ctx: z.RefinementCtx): void {
  let sum = 0;
  for (const a of s.arms) sum += a.share;
  if (!(Math.abs(sum - 1) <= SHARE_SUM_TOLERANCE)) {
    ctx.addIssue({ code: 'custom', path: ['arms'], message: `arms[].share must sum to 1, got ${sum}` });
  }
  const seen = new Set<string>();
  s.arms.forEach((a, i) => {
    if (seen.has(a.name)) ctx.addIssue({ code: 'custom', path: ['arms', i, 'name'], message: `duplicate arm name '${a.name}'` });
    seen.add(a.name);
  });
}

export const ExplorationSettingsSchema = z.object(explorationFields).superRefine(checkArms);
export type ExplorationSettings = z.infer<typeof ExplorationSettingsSchema>;

/**
 * Paper defaults (§3.3: equal amounts of random exploration and action-noise exploration), plus a 10%
 * share with no exploration that serves as the online control group. σ as in the simulator's behavior
 * policy (src/sim/config.ts: randomSd 0.3, noiseSd 0.1); arm names as its policy_id (src/sim/policies.ts).
 */
export const DEFAULT_EXPLORATION: ExplorationSettings = Object.freeze({
  arms: Object.freeze([
    Object.freeze({ name: 'random_explore', share: 0.45, sigma: 0.3 }),
    Object.freeze({ name: 'action_noise', share: 0.45, sigma: 0.1 }),
    Object.freeze({ name: 'control', share: 0.1, sigma: 0 }),
  ]) as ExplorationArm[],
}) as ExplorationSettings;

/** The key every ranking stack hashes session ids with unless the pipeline names another. */
export const DEFAULT_EXPLORATION_KEY = 'batchrl-mtf';

/**
 * Exploration as it travels with a published version (manifest `exploration`, pipeline
 * `publish.exploration`): the settings plus the HMAC key of the arm assignment. The key is not a
 * secret — it makes the assignment reproducible by every ranking stack; change it to draw new groups.
 */
export const PublishedExplorationSchema = z
  .object({
    key: z.string().min(1).describe('HMAC-SHA256 key of the arm assignment (UTF-8); every ranking stack must use the same'),
    ...explorationFields,
  })
  .superRefine(checkArms);
export type PublishedExploration = z.infer<typeof PublishedExplorationSchema>;

/** The pipeline's default: DEFAULT_EXPLORATION with DEFAULT_EXPLORATION_KEY. */
export function defaultPublishedExploration(): PublishedExploration {
  return { key: DEFAULT_EXPLORATION_KEY, arms: DEFAULT_EXPLORATION.arms.map((a) => ({ ...a })) };
}

/** Parses settings; a bad field throws an InputError naming it (e.g. `field 'arms.0.sigma': …`). */
export function parseExplorationSettings(raw: unknown, source = 'exploration settings'): ExplorationSettings {
  const r = ExplorationSettingsSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = issue.path.join('.') || '(top level)';
    throw new InputError(`${source}: field '${field}': ${issue.message}`, { field });
  }
  return r.data;
}

/** The decimal text of an integer session id, or the string itself: the bytes hashed are its UTF-8. */
export function sessionIdText(sessionId: string | number | bigint): string {
  if (typeof sessionId === 'string') return sessionId;
  if (typeof sessionId === 'number' && !Number.isSafeInteger(sessionId)) {
    throw new RangeError(`session id ${sessionId} is not a safe integer: pass it as a string or bigint`);
  }
  return sessionId.toString(10);
}

/**
 * u ∈ [0, 1) of a session: HMAC-SHA256(key, UTF-8(session id)), the first 8 bytes as a big-endian
 * uint64 x, u = floor(x / 2^11) / 2^53 (the top 53 bits: exact in a double, never 1).
 */
export function sessionUniform(sessionId: string | number | bigint, key: string | Uint8Array): number {
  const keyBytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : Buffer.from(key);
  if (keyBytes.length === 0) throw new RangeError('exploration key is empty');
  const mac = createHmac('sha256', keyBytes).update(Buffer.from(sessionIdText(sessionId), 'utf8')).digest();
  const x = mac.readBigUInt64BE(0);
  return Number(x >> 11n) / 2 ** 53;
}

/**
 * The session's arm: the first arm (in settings order) with u < its cumulative share (summed left to
 * right in double precision); if rounding leaves u ≥ the last sum, the last arm with share > 0.
 */
export function assignArm(sessionId: string | number | bigint, key: string | Uint8Array, settings: ExplorationSettings): ExplorationArm {
  const u = sessionUniform(sessionId, key);
  let cum = 0;
  for (const arm of settings.arms) {
    cum += arm.share;
    if (u < cum) return arm;
  }
  for (let i = settings.arms.length - 1; i >= 0; i--) if (settings.arms[i].share > 0) return settings.arms[i];
  throw new RangeError('exploration settings: no arm has a share > 0');
}

function checkVector(v: ArrayLike<number>, what: string, k?: number): void {
  if (k !== undefined && v.length !== k) throw new RangeError(`${what}: expected ${k} values, got ${v.length}`);
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) throw new RangeError(`${what}[${i}] is ${v[i]}, not a finite number`);
}

/**
 * α = float32(float32(μ) + σ·z), per component, in double arithmetic and then rounded to float32
 * (round to nearest, ties to even). Never clipped. σ = 0 (control) returns float32(μ) and ignores z
 * (z may then be empty).
 */
export function explore(mean: ArrayLike<number>, arm: Pick<ExplorationArm, 'sigma'>, standardNormals: ArrayLike<number>): Float32Array {
  checkVector(mean, 'explore: mean α');
  if (!(arm.sigma >= 0)) throw new RangeError(`explore: sigma must be ≥ 0, got ${arm.sigma}`);
  const mu = Float32Array.from(mean);
  if (arm.sigma === 0) return mu;
  checkVector(standardNormals, 'explore: standard normals', mu.length);
  const out = new Float32Array(mu.length);
  for (let i = 0; i < mu.length; i++) out[i] = mu[i] + arm.sigma * standardNormals[i];
  return out;
}

/**
 * log N(α; μ, σ² I) of the float32-rounded α about the float32-rounded μ: with d_i = (α_i − μ_i)/σ in
 * double, logp = −½ Σ_i d_i² − k (ln σ + ½ ln 2π), summed i = 0..k−1 — the same expression as the
 * simulator's behavior policy. σ = 0 (control, a point mass at μ): null — a point mass has no density,
 * and a 0 logged beside the other arms' densities would be read as one by importance sampling and by
 * TSCAC's π_β (the log contract's action_logp is nullable; ingest keeps null as "unknown"). α must
 * equal float32(μ) (else the action is impossible under the arm: throws).
 */
export function actionLogp(alpha: ArrayLike<number>, mean: ArrayLike<number>, sigma: number): number | null {
  checkVector(mean, 'actionLogp: mean α');
  checkVector(alpha, 'actionLogp: α', mean.length);
  if (!(sigma >= 0) || !Number.isFinite(sigma)) throw new RangeError(`actionLogp: sigma must be finite and ≥ 0, got ${sigma}`);
  const a = Float32Array.from(alpha);
  const mu = Float32Array.from(mean);
  const k = mu.length;
  if (sigma === 0) {
    for (let i = 0; i < k; i++) if (a[i] !== mu[i]) throw new RangeError(`actionLogp: σ = 0 (control) but α[${i}] = ${a[i]} ≠ μ[${i}] = ${mu[i]}`);
    return null;
  }
  let sq = 0;
  for (let i = 0; i < k; i++) {
    const d = (a[i] - mu[i]) / sigma;
    sq += d * d;
  }
  return -0.5 * sq + -k * (Math.log(sigma) + 0.5 * LOG_2PI);
}

/** policy_id to log: `<arm>:<model version>`, as the simulator's `random_explore:<production id>`. */
export function policyId(arm: Pick<ExplorationArm, 'name'> | string, modelVersion: string): string {
  const name = typeof arm === 'string' ? arm : arm.name;
  if (!name) throw new RangeError('policyId: empty arm name');
  if (!modelVersion) throw new RangeError('policyId: empty model version');
  return `${name}:${modelVersion}`;
}

export interface ExplorationDecision {
  arm: ExplorationArm;
  /** the α to apply and log (float32) */
  alpha: Float32Array;
  /** its log-density under the arm (null for a σ = 0 arm: a point mass has none) */
  actionLogp: number | null;
  policyId: string;
}

/** One request: the session's arm, its α, action_logp and policy_id — the columns of the log contract. */
export function exploreRequest(
  sessionId: string | number | bigint,
  key: string | Uint8Array,
  settings: ExplorationSettings,
  mean: ArrayLike<number>,
  standardNormals: ArrayLike<number>,
  modelVersion: string,
): ExplorationDecision {
  const arm = assignArm(sessionId, key, settings);
  const alpha = explore(mean, arm, standardNormals);
  return { arm, alpha, actionLogp: actionLogp(alpha, mean, arm.sigma), policyId: policyId(arm, modelVersion) };
}

/** The arm of a version whose manifest has no exploration: μ as is. */
export const NO_EXPLORATION_ARM = 'none';

export interface ExploredRows {
  /** [n × k] the α applied (μ where the arm's σ = 0) */
  alpha: Float32Array;
  /** per row: action_logp, null for a σ = 0 arm */
  actionLogp: (number | null)[];
  policyIds: string[];
  arms: string[];
  /** per row: 1 where α ≠ μ was drawn (σ > 0) */
  explored: Uint8Array;
}

/**
 * Exploration for a batch of n requests: μ [n × k] (the model's α) → what the ranking stack applies and
 * logs, per request, under `settings` (null: no exploration, arm NO_EXPLORATION_ARM). `normals` [n × k]
 * supplies z per row (only rows of σ > 0 arms read it). Session ids must be non-empty strings.
 */
export function exploreRows(
  mu: Float32Array,
  k: number,
  sessionIds: readonly string[],
  settings: PublishedExploration | ExplorationSettings & { key?: string } | null,
  normals: ArrayLike<number>,
  modelVersion: string,
): ExploredRows {
  const n = sessionIds.length;
  if (mu.length < n * k) throw new RangeError(`exploreRows: μ holds ${mu.length} values for ${n} rows × ${k}`);
  const out: ExploredRows = { alpha: Float32Array.from(mu.subarray(0, n * k)), actionLogp: new Array(n), policyIds: new Array(n), arms: new Array(n), explored: new Uint8Array(n) };
  const z = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    const sid = sessionIds[i];
    if (typeof sid !== 'string' || sid.length === 0) throw new InputError(`session_ids[${i}]: expected a non-empty string`, { field: `session_ids[${i}]` });
    const arm = settings === null ? null : assignArm(sid, settings.key ?? '', settings);
    const name = arm?.name ?? NO_EXPLORATION_ARM;
    out.arms[i] = name;
    out.policyIds[i] = policyId(name, modelVersion);
    if (arm === null || arm.sigma === 0) {
      out.actionLogp[i] = null;
      continue;
    }
    const m = mu.subarray(i * k, (i + 1) * k);
    for (let j = 0; j < k; j++) z[j] = normals[i * k + j];
    const a = explore(m, arm, z);
    out.alpha.set(a, i * k);
    out.actionLogp[i] = actionLogp(a, m, arm.sigma);
    out.explored[i] = 1;
  }
  return out;
}
