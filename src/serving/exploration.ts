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
 * Not wired yet: mtf serve, FusionScorer, the manifest and the simulator do not use this module.
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

export const ExplorationSettingsSchema = z
  .object({
    arms: z.array(ExplorationArmSchema).min(1).describe('in assignment order: cumulative shares are taken in this order'),
    actionInterval: z
      .object({ min: z.number(), max: z.number() })
      .refine((r) => r.min < r.max, { message: 'actionInterval.min must be < actionInterval.max', path: ['min'] })
      .optional()
      .describe('carried with the settings; NOT applied by explore() (α is never clipped)'),
  })
  .superRefine((s, ctx) => {
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
  });
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
 * simulator's behavior policy. σ = 0 (control, a point mass at μ): 0 by convention, and α must equal
 * float32(μ) (else the action is impossible under the arm: throws).
 */
export function actionLogp(alpha: ArrayLike<number>, mean: ArrayLike<number>, sigma: number): number {
  checkVector(mean, 'actionLogp: mean α');
  checkVector(alpha, 'actionLogp: α', mean.length);
  if (!(sigma >= 0) || !Number.isFinite(sigma)) throw new RangeError(`actionLogp: sigma must be finite and ≥ 0, got ${sigma}`);
  const a = Float32Array.from(alpha);
  const mu = Float32Array.from(mean);
  const k = mu.length;
  if (sigma === 0) {
    for (let i = 0; i < k; i++) if (a[i] !== mu[i]) throw new RangeError(`actionLogp: σ = 0 (control) but α[${i}] = ${a[i]} ≠ μ[${i}] = ${mu[i]}`);
    return 0;
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
  /** its log-density under the arm (0 for a σ = 0 arm) */
  actionLogp: number;
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
