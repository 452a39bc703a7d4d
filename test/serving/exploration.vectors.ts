/**
 * Makes schemas/exploration-test-vectors.json, the exploration contract's test vectors (see
 * schemas/exploration.md): `node --import tsx test/serving/exploration.vectors.ts`.
 * Everything is fixed (keys, session ids, μ, and z and u from seeded generators, rounded to 6 decimals),
 * so a re-run writes the same file; test/serving/exploration.test.ts checks the file against the code.
 * The gaussian vectors come first, as before issue 21 §3 (byte-identical); the bounded uniform arm's
 * vectors (issue 21 §3) follow, with `uniforms` in place of `z`.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { seeded } from '../export/helpers.ts';
import { DEFAULT_EXPLORATION, UNIFORM_EXPLORATION, assignArm, exploreRequest, sessionUniform, type ExplorationSettings } from '../../src/serving/exploration.ts';

export const VECTORS_PATH = fileURLToPath(new URL('../../schemas/exploration-test-vectors.json', import.meta.url));

export interface ExplorationVector {
  key: string;
  session_id: string | number;
  settings: ExplorationSettings;
  model_version: string;
  /** informative: u = top 53 bits of the first 8 HMAC bytes / 2^53 */
  u: number;
  arm: string;
  mu: number[];
  /** standard normals (gaussian-arm vectors) */
  z?: number[];
  /** uniforms in [0, 1) (uniform-arm vectors, in place of z) */
  uniforms?: number[];
  alpha: number[];
  /** α's float32 bit patterns (hex, big-endian) */
  alpha_f32_hex: string[];
  action_logp: number | null;
  policy_id: string;
}

/** mulberry32 + Box–Muller: only to make fixed z for the file (any source of normals is allowed). */
function normals(seed: number): () => number {
  let a = seed >>> 0;
  const uni = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => {
    const u1 = 1 - uni();
    const u2 = uni();
    return Math.round(Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2) * 1e6) / 1e6;
  };
}

function f32hex(x: number): string {
  const b = Buffer.alloc(4);
  b.writeFloatBE(x, 0);
  return b.toString('hex');
}

/** The test helpers' mulberry32 uniforms rounded down to 6 decimals (stay in [0, 1)). */
function uniforms(seed: number): () => number {
  const next = seeded(seed);
  return () => Math.floor(next() * 1e6) / 1e6;
}

function vector(key: string, sessionId: string | number, settings: ExplorationSettings, mu: number[], z: number[] | null, version: string, u?: number[]): ExplorationVector {
  const d = exploreRequest(sessionId, key, settings, mu, z ?? [], version, u);
  const alpha = Array.from(d.alpha);
  return {
    key,
    session_id: sessionId,
    settings,
    model_version: version,
    u: sessionUniform(sessionId, key),
    arm: d.arm.name,
    mu,
    ...(z ? { z } : {}),
    ...(u ? { uniforms: u } : {}),
    alpha,
    alpha_f32_hex: alpha.map(f32hex),
    action_logp: d.actionLogp,
    policy_id: d.policyId,
  };
}

export function makeVectors(): ExplorationVector[] {
  const key = 'mtf-exploration-test-key';
  const k = 4;
  const mu = [1.0, 0.3, 2.5, 0.1]; // 0.3 and 0.1 are not float32-exact: μ is rounded first
  const draw = normals(18);
  const out: ExplorationVector[] = [];
  // Three sessions per default arm, the first found in s-000000, s-000001, …
  const want = new Map(DEFAULT_EXPLORATION.arms.map((a) => [a.name, 3]));
  for (let i = 0; [...want.values()].some((n) => n > 0); i++) {
    if (i >= 100_000) throw new Error(`makeVectors: no 3 sessions of every arm in 100,000 ids (${[...want].join(', ')} still wanted): assignArm is broken`);
    const sid = `s-${String(i).padStart(6, '0')}`;
    const arm = assignArm(sid, key, DEFAULT_EXPLORATION).name;
    if ((want.get(arm) ?? 0) <= 0) continue;
    want.set(arm, want.get(arm)! - 1);
    const z = Array.from({ length: k }, draw);
    out.push(vector(key, sid, DEFAULT_EXPLORATION, mu, z, 'v000003'));
  }
  // An integer session id (hashed as its decimal text), a non-ASCII one, another key, other settings.
  out.push(vector(key, 1234567890123, DEFAULT_EXPLORATION, [0.5, -0.25, 1.75, 3], Array.from({ length: k }, draw), 'v000003'));
  out.push(vector(key, 'séance-Ω-7', DEFAULT_EXPLORATION, mu, Array.from({ length: k }, draw), 'v000003'));
  out.push(vector('another key', 's-000000', DEFAULT_EXPLORATION, mu, Array.from({ length: k }, draw), 'v000004'));
  const twoArms: ExplorationSettings = { arms: [{ name: 'action_noise', share: 0.25, sigma: 0.05 }, { name: 'random_explore', share: 0.75, sigma: 0.5 }] };
  out.push(vector(key, 's-000001', twoArms, [0.2, 0.2, 0.2, 0.2, 0.2], Array.from({ length: 5 }, draw), 'v000010'));
  out.push(...uniformVectors(key, k, mu));
  return out;
}

/**
 * The bounded uniform arm (issue 21 §3): two sessions of each UNIFORM_EXPLORATION arm, then the box's
 * edges (u = 0 gives float32(m − h), u just below 1 the top; μ = 0.3, 0.1 not float32-exact), and
 * settings mixing a gaussian, a uniform (h 0.4) and a control arm.
 */
function uniformVectors(key: string, k: number, mu: number[]): ExplorationVector[] {
  const drawU = uniforms(21);
  const out: ExplorationVector[] = [];
  const want = new Map(UNIFORM_EXPLORATION.arms.map((a) => [a.name, 2]));
  let edge = '';
  for (let i = 0; [...want.values()].some((n) => n > 0); i++) {
    if (i >= 100_000) throw new Error(`makeVectors: no 2 sessions of every uniform-settings arm in 100,000 ids: assignArm is broken`);
    const sid = `s-${String(i).padStart(6, '0')}`;
    const arm = assignArm(sid, key, UNIFORM_EXPLORATION).name;
    if ((want.get(arm) ?? 0) <= 0) continue;
    want.set(arm, want.get(arm)! - 1);
    if (arm === 'uniform_explore') edge = sid;
    out.push(vector(key, sid, UNIFORM_EXPLORATION, mu, null, 'v000021', Array.from({ length: k }, drawU)));
  }
  out.push(vector(key, edge, UNIFORM_EXPLORATION, mu, null, 'v000021', [0, 0, 0, 0]));
  out.push(vector(key, edge, UNIFORM_EXPLORATION, mu, null, 'v000021', [1 - 2 ** -53, 1 - 2 ** -53, 0.5, 1e-9]));
  const mixed: ExplorationSettings = {
    arms: [
      { name: 'action_noise', share: 0.3, sigma: 0.1 },
      { name: 'uniform_explore', share: 0.6, kind: 'uniform', halfWidth: 0.4 },
      { name: 'control', share: 0.1, sigma: 0 },
    ],
  };
  const drawZ = normals(2121);
  const seen = new Map(mixed.arms.map((a) => [a.name, 0]));
  for (let i = 0; [...seen.values()].some((n) => n < 1); i++) {
    if (i >= 100_000) throw new Error('makeVectors: no session of every mixed arm in 100,000 ids: assignArm is broken');
    const sid = `m-${i}`;
    const arm = assignArm(sid, 'another key', mixed).name;
    if (seen.get(arm)! >= 1) continue;
    seen.set(arm, 1);
    // both draws, as a caller that does not know the arm yet passes them; the arm reads its own
    out.push(vector('another key', sid, mixed, [0.2, 0.2, 0.2, 0.2, 0.2], Array.from({ length: 5 }, drawZ), 'v000022', Array.from({ length: 5 }, drawU)));
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const vectors = makeVectors();
  const doc = {
    description: 'Exploration contract test vectors (schemas/exploration.md). Made by test/serving/exploration.vectors.ts.',
    vectors,
  };
  writeFileSync(VECTORS_PATH, JSON.stringify(doc, null, 2) + '\n');
  console.log(`${VECTORS_PATH}: ${vectors.length} vectors (${vectors.map((v) => v.arm).join(', ')})`);
}
