/**
 * The exploration contract (issue 18 §1, first piece; paper BatchRL-MTF §3.3 mixed multi-exploration).
 * Pure functions, no I/O, no randomness of their own: a ranking stack assigns each session to an arm
 * from a keyed hash of its session id, draws k standard normals z (Gaussian arm) or k uniforms u in
 * [0, 1) (bounded uniform arm, issue 21 §3) per request from any generator it likes, and gets
 * α = μ + σ·z or α = μ + h·(2u − 1), the exact log-density of the float32 α under the arm, and the
 * policy_id to log. The algorithm is specified for other languages in schemas/exploration.md, with test vectors
 * in schemas/exploration-test-vectors.json (made by test/serving/exploration.vectors.ts).
 *
 * Not clipped: α is never clipped to an interval, so the density is the plain diagonal Gaussian (or
 * the plain uniform density of the box μ ± h).
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

export const ARM_KINDS = ['gaussian', 'uniform'] as const;
export type ArmKind = (typeof ARM_KINDS)[number];

/**
 * One arm. `kind` absent = gaussian (every manifest and pipeline written before issue 21 §3 stays
 * valid): α ~ N(μ, σ² I), `sigma` required. `kind: 'uniform'` (issue 21 §3; UnifiedRL, arXiv 2404.17589,
 * explores with bounded uniform noise around the live policy): α ~ U[μ − h, μ + h]^k, `halfWidth` h > 0
 * required and `sigma` refused (its spread is h; a σ beside it would read as if it counted).
 */
export const ExplorationArmSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z][a-z0-9_]*$/, 'arm name: lower-case letters, digits and _, starting with a letter')
      .describe('arm id, logged as the first part of policy_id'),
    share: z.number().min(0).max(1).describe('share of sessions assigned to this arm'),
    kind: z.enum(ARM_KINDS).optional().describe("gaussian (absent: gaussian) = α ~ N(μ, σ² I); uniform = α ~ U[μ − h, μ + h]^k, bounded uniform exploration (issue 21 §3)"),
    sigma: z.number().min(0).optional().describe('gaussian arm (required there, refused on a uniform arm): σ of α ~ N(μ, σ² I) per request; 0 = no exploration (control)'),
    halfWidth: z
      .number()
      .positive()
      .refine(Number.isFinite, 'halfWidth must be finite')
      .optional()
      .describe('uniform arm (required there, refused on a gaussian arm): h of α_i ~ U[μ_i − h, μ_i + h] per component, α units; > 0'),
  })
  .superRefine((a, ctx) => {
    if (a.kind === 'uniform') {
      if (a.halfWidth === undefined) ctx.addIssue({ code: 'custom', path: ['halfWidth'], message: "required on a uniform arm (kind 'uniform'): the half-width h > 0 of the box μ ± h" });
      if (a.sigma !== undefined) ctx.addIssue({ code: 'custom', path: ['sigma'], message: "not allowed on a uniform arm (kind 'uniform'): its spread is halfWidth" });
    } else {
      if (a.sigma === undefined) ctx.addIssue({ code: 'custom', path: ['sigma'], message: 'required on a gaussian arm (kind absent or gaussian): σ ≥ 0, 0 = control' });
      if (a.halfWidth !== undefined) ctx.addIssue({ code: 'custom', path: ['halfWidth'], message: "only on a uniform arm (kind 'uniform'); a gaussian arm's spread is sigma" });
    }
  });

/** The spread of an arm: what explore() and the densities read. */
export type ArmSpread = { kind?: 'gaussian'; sigma: number } | { kind: 'uniform'; halfWidth: number };
export type GaussianArm = { name: string; share: number; kind?: 'gaussian'; sigma: number; halfWidth?: undefined };
export type UniformArm = { name: string; share: number; kind: 'uniform'; halfWidth: number; sigma?: undefined };
export type ExplorationArm = GaussianArm | UniformArm;

/** True for a bounded uniform arm (kind 'uniform'). */
export function isUniformArm<T extends ArmSpread>(arm: T): arm is Extract<T, { kind: 'uniform' }> {
  return arm.kind === 'uniform';
}

/** An arm that does not explore: a gaussian arm with σ = 0 (the control group). */
export function isControlArm(arm: ArmSpread): boolean {
  return !isUniformArm(arm) && arm.sigma === 0;
}

const explorationFields = {
  arms: z.array(ExplorationArmSchema as unknown as z.ZodType<ExplorationArm>).min(1).describe('in assignment order: cumulative shares are taken in this order'),
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

/**
 * Bounded uniform exploration (issue 21 §3, after UnifiedRL, arXiv 2404.17589: uniform noise of ±0.15
 * in normalised action units around the live policy): one uniform arm on 90% of the sessions and the
 * 10% control group of DEFAULT_EXPLORATION.
 *
 * h = 0.13 in α units, i.e. 0.15 × the action's half-range in the units the learners use. The learners
 * map the action box to [−1, 1] (src/rl/normalization.ts); the box is the config's actionInterval,
 * default {sd: 4} = mean ± 4·sd of the logged α per coordinate (src/rl/config.ts ACTION_INTERVAL_DEFAULT),
 * so its half-range is 4·sd. Under the Gaussian exploration around a constant μ (the loop's start), sd
 * of the logged α is √(0.45·0.3² + 0.45·0.1²) = 0.212 (DEFAULT_EXPLORATION; the simulator's
 * behavior policy, 50/50 without control: 0.224), half-range 0.85–0.89, and 0.15 × that = 0.127–0.134.
 * One fixed h, not one derived from each night's data: the box follows the data it is computed on (under
 * this arm, around a constant μ, sd shrinks to 0.13/√3·√0.9 ≈ 0.071, the {sd: 4} box to ±0.29), and a
 * data-derived h would shrink night after night.
 */
export const UNIFORM_HALF_WIDTH = 0.13;

export const UNIFORM_EXPLORATION: ExplorationSettings = Object.freeze({
  arms: Object.freeze([
    Object.freeze({ name: 'uniform_explore', share: 0.9, kind: 'uniform' as const, halfWidth: UNIFORM_HALF_WIDTH }),
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

/** The presets by name (`mtf loop --exploration`): gaussian = DEFAULT_EXPLORATION, uniform = UNIFORM_EXPLORATION. */
export const EXPLORATION_PRESETS = { gaussian: DEFAULT_EXPLORATION, uniform: UNIFORM_EXPLORATION } as const;
export type ExplorationPreset = keyof typeof EXPLORATION_PRESETS;

/** A preset with DEFAULT_EXPLORATION_KEY, as a pipeline's `publish.exploration`. */
export function publishedExploration(preset: ExplorationPreset): PublishedExploration {
  const s = EXPLORATION_PRESETS[preset];
  if (!s) throw new RangeError(`exploration preset '${preset}': expected one of ${Object.keys(EXPLORATION_PRESETS).join(', ')}`);
  return { key: DEFAULT_EXPLORATION_KEY, arms: s.arms.map((a) => ({ ...a })) };
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
 * α per component, in double arithmetic and then rounded to float32 (round to nearest, ties to even),
 * never clipped. Gaussian arm: α = float32(float32(μ) + σ·z), `draws` = k standard normals z; σ = 0
 * (control) returns float32(μ) and ignores the draws (they may then be empty). Uniform arm:
 * α = float32(float32(μ) + h·(2u − 1)), `draws` = k uniforms u ∈ [0, 1) (a u of exactly 1, e.g. a
 * draw rounded to float32, is accepted: it gives the box's upper edge).
 */
export function explore(mean: ArrayLike<number>, arm: ArmSpread, draws: ArrayLike<number>): Float32Array {
  checkVector(mean, 'explore: mean α');
  const mu = Float32Array.from(mean);
  const out = new Float32Array(mu.length);
  if (isUniformArm(arm)) {
    const h = checkHalfWidth(arm.halfWidth, 'explore');
    checkVector(draws, 'explore: uniforms', mu.length);
    for (let i = 0; i < mu.length; i++) {
      if (!(draws[i] >= 0 && draws[i] <= 1)) throw new RangeError(`explore: uniforms[${i}] = ${draws[i]} is outside [0, 1)`);
      out[i] = mu[i] + h * (2 * draws[i] - 1);
    }
    return out;
  }
  if (!(arm.sigma >= 0)) throw new RangeError(`explore: sigma must be ≥ 0, got ${arm.sigma}`);
  if (arm.sigma === 0) return mu;
  checkVector(draws, 'explore: standard normals', mu.length);
  for (let i = 0; i < mu.length; i++) out[i] = mu[i] + arm.sigma * draws[i];
  return out;
}

function checkHalfWidth(h: number, what: string): number {
  if (!(h > 0) || !Number.isFinite(h)) throw new RangeError(`${what}: halfWidth must be finite and > 0, got ${h}`);
  return h;
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

/**
 * log U(α; [μ − h, μ + h]^k) = −k·ln(2h) (computed as −k · ln(2·h) in double) for the float32 α about
 * the float32 μ, issue 21 §3. The box α is checked against, per component: [float32(m_i − h),
 * float32(m_i + h)], m_i = float32(μ_i), the difference and sum in double and then rounded to float32.
 * Every α explore() makes lies in it (rounding is monotone and |h·(2u − 1)| ≤ h in double), and the
 * density is that of the continuous uniform before rounding, as the Gaussian arm's is. An α outside is
 * impossible under the arm: throws.
 */
export function uniformActionLogp(alpha: ArrayLike<number>, mean: ArrayLike<number>, halfWidth: number): number {
  checkVector(mean, 'uniformActionLogp: mean α');
  checkVector(alpha, 'uniformActionLogp: α', mean.length);
  const h = checkHalfWidth(halfWidth, 'uniformActionLogp');
  const a = Float32Array.from(alpha);
  const mu = Float32Array.from(mean);
  const k = mu.length;
  for (let i = 0; i < k; i++) {
    const lo = Math.fround(mu[i] - h);
    const hi = Math.fround(mu[i] + h);
    if (!(a[i] >= lo && a[i] <= hi)) {
      throw new RangeError(`uniformActionLogp: α[${i}] = ${a[i]} is outside the arm's box [${lo}, ${hi}] (μ[${i}] = ${mu[i]} ± ${h}, float32): impossible under a uniform arm`);
    }
  }
  return -k * Math.log(2 * h);
}

/** action_logp of α under an arm: actionLogp for a gaussian arm (null for σ = 0), uniformActionLogp for a uniform one. */
export function armActionLogp(alpha: ArrayLike<number>, mean: ArrayLike<number>, arm: ArmSpread): number | null {
  return isUniformArm(arm) ? uniformActionLogp(alpha, mean, arm.halfWidth) : actionLogp(alpha, mean, arm.sigma);
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

/**
 * One request: the session's arm, its α, action_logp and policy_id — the columns of the log contract.
 * `standardNormals` (k) are read by a gaussian arm, `uniforms` (k values in [0, 1)) by a uniform arm:
 * a caller that does not know the arm yet passes both.
 */
export function exploreRequest(
  sessionId: string | number | bigint,
  key: string | Uint8Array,
  settings: ExplorationSettings,
  mean: ArrayLike<number>,
  standardNormals: ArrayLike<number>,
  modelVersion: string,
  uniforms?: ArrayLike<number>,
): ExplorationDecision {
  const arm = assignArm(sessionId, key, settings);
  const alpha = explore(mean, arm, isUniformArm(arm) ? needUniforms(uniforms, `session ${String(sessionId)}`, arm) : standardNormals);
  return { arm, alpha, actionLogp: armActionLogp(alpha, mean, arm), policyId: policyId(arm, modelVersion) };
}

function needUniforms(u: ArrayLike<number> | undefined, where: string, arm: ExplorationArm): ArrayLike<number> {
  if (u === undefined) throw new RangeError(`${where}: arm '${arm.name}' is a uniform arm and no uniforms in [0, 1) were given`);
  return u;
}

/** The arm of a version whose manifest has no exploration: μ as is. */
export const NO_EXPLORATION_ARM = 'none';

export interface ExploredRows {
  /** [n × k] the α applied (μ where the arm does not explore: σ = 0) */
  alpha: Float32Array;
  /** per row: action_logp, null for a σ = 0 arm */
  actionLogp: (number | null)[];
  policyIds: string[];
  arms: string[];
  /** per row: 1 where α ≠ μ was drawn (σ > 0 or a uniform arm) */
  explored: Uint8Array;
}

/** True when some arm of the settings is a uniform arm (its rows need uniforms). */
export function needsUniforms(settings: { arms: readonly ExplorationArm[] } | null | undefined): boolean {
  return !!settings && settings.arms.some(isUniformArm);
}

/**
 * Exploration for a batch of n requests: μ [n × k] (the model's α) → what the ranking stack applies and
 * logs, per request, under `settings` (null: no exploration, arm NO_EXPLORATION_ARM). `normals` [n × k]
 * supplies z per row (only rows of σ > 0 gaussian arms read it); `uniforms` [n × k], values in [0, 1),
 * supplies u per row (only rows of uniform arms read it; required when one is assigned, see
 * needsUniforms). Session ids must be non-empty strings.
 */
export function exploreRows(
  mu: Float32Array,
  k: number,
  sessionIds: readonly string[],
  settings: PublishedExploration | ExplorationSettings & { key?: string } | null,
  normals: ArrayLike<number>,
  modelVersion: string,
  uniforms?: ArrayLike<number>,
): ExploredRows {
  const n = sessionIds.length;
  if (mu.length < n * k) throw new RangeError(`exploreRows: μ holds ${mu.length} values for ${n} rows × ${k}`);
  if (uniforms !== undefined && uniforms.length < n * k) throw new RangeError(`exploreRows: uniforms hold ${uniforms.length} values for ${n} rows × ${k}`);
  const out: ExploredRows = { alpha: Float32Array.from(mu.subarray(0, n * k)), actionLogp: new Array(n), policyIds: new Array(n), arms: new Array(n), explored: new Uint8Array(n) };
  const draws = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    const sid = sessionIds[i];
    if (typeof sid !== 'string' || sid.length === 0) throw new InputError(`session_ids[${i}]: expected a non-empty string`, { field: `session_ids[${i}]` });
    const arm = settings === null ? null : assignArm(sid, settings.key ?? '', settings);
    const name = arm?.name ?? NO_EXPLORATION_ARM;
    out.arms[i] = name;
    out.policyIds[i] = policyId(name, modelVersion);
    if (arm === null || isControlArm(arm)) {
      out.actionLogp[i] = null;
      continue;
    }
    const m = mu.subarray(i * k, (i + 1) * k);
    const src = isUniformArm(arm) ? needUniforms(uniforms, `exploreRows: row ${i}`, arm) : normals;
    for (let j = 0; j < k; j++) draws[j] = src[i * k + j];
    const a = explore(m, arm, draws);
    out.alpha.set(a, i * k);
    out.actionLogp[i] = armActionLogp(a, m, arm);
    out.explored[i] = 1;
  }
  return out;
}
